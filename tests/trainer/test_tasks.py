"""The task list read from isaaclab_tasks' sources (without importing it) agrees with the real gym registry."""

from __future__ import annotations

from trainer import tasks


def test_source_scan_matches_the_gymnasium_registry():
    import gymnasium as gym

    from trainer.isaaclab_compat import prepare_isaaclab_import

    prepare_isaaclab_import("cpu")  # hydra's ANTLR 4.9 before Isaac Lab loads it, as the trainer does (alone, too)
    import isaaclab_tasks  # noqa: F401  (registers the Isaac-* ids; ~6 s: torch + warp)

    scanned = tasks.isaaclab_tasks()
    assert "Isaac-Cartpole-Direct" in scanned and len(scanned) > 20
    for task_id, path in scanned.items():
        spec = gym.spec(task_id)
        module, _, filename = spec.kwargs[tasks.AGENT_ENTRY_POINT].partition(":")
        assert path.name == filename and path.parent.name == module.rsplit(".", 1)[-1], task_id
    registered = {k for k, v in gym.registry.items() if str(v.kwargs.get(tasks.AGENT_ENTRY_POINT, "")).endswith(".yaml")}
    assert len(registered - set(scanned)) <= 0.05 * len(registered)  # a few ids built from variables are missed


def test_lookup():
    assert tasks.lookup("isaaclab:Isaac-Cartpole-Direct").agent_yaml.name == "skrl_direct_ppo_cfg.yaml"
    assert tasks.lookup("gymnasium:InvertedPendulum-v5").agent_yaml.name == "gymnasium_ppo_cfg.yaml"
    assert tasks.lookup("gymnasium:CartPole-v1") is None  # discrete actions: not a PPO-Gaussian task here
    assert tasks.lookup("isaaclab:Nope") is None and tasks.lookup("mujoco:x") is None
