"""The training workload: Isaac Lab 3.0 (kit-less, Newton) / gymnasium + skrl PPO. See docs/architecture.md."""
