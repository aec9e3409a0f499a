"""Which `performance:` switches a training really ran with, observed on the live agent and environment.

A switch that is asked for but silently off (a capture that fell back, a device it does not apply to that should
have been one it does, a wiring that forgot to pass it) costs speed without any error. So the trainer reports what
it *observed*, not what the config says: `TrainResult.performance` (train_result.json) and the Pipes metadata carry
`requested` (the switches of the config that apply on this device), `active` (what ran) and `off` (requested but not
active); the trainer prints a warning for each entry of `off`, and tests/trainer/test_performance.py fails on it for
every shipped config whose device the test machine has.

What each switch means and how it is observed:
- `lean` (trainer/lean.py): the agent's class is the sync-free PPO (`_episode_stats` exists);
- `cuda_graphs` (trainer/graphs.py; with `lean` on a CUDA device): a graphed policy act and a graphed PPO
  mini-batch step exist at the end of training (a capture that failed falls back to eager and leaves them None);
- `cpu_graph` (trainer/cpu_graph.py; Isaac Lab tasks on CPU): Isaac Lab's Newton manager holds a captured physics
  graph (`NewtonManager._graph`), which it only has on CPU when the patch took;
- `env_frontend` (Isaac Lab tasks): the env class comes from Isaac Lab's experimental Warp packages ('warp') or not
  ('torch').
"""

from __future__ import annotations

from typing import Any

from trainer.config import TaskConfig


def requested(cfg: TaskConfig, device: str) -> dict[str, Any]:
    """The switches `cfg` turns on that apply on `device` (what must be active after training)."""
    p, isaac, cuda = cfg.performance, cfg.family == "isaaclab", str(device).startswith("cuda")
    want: dict[str, Any] = {}
    if p.lean:
        want["lean"] = True
    if p.cuda_graphs and p.lean and cuda:
        want["cuda_graphs"] = True
    if p.cpu_graph and isaac and not cuda:
        want["cpu_graph"] = True
    if isaac:
        want["env_frontend"] = p.env_frontend
    return want


def _physics_graph_captured() -> bool:
    import sys

    module = sys.modules.get("isaaclab_newton.physics.newton_manager")
    return module is not None and getattr(module.NewtonManager, "_graph", None) is not None


def observe(cfg: TaskConfig, agent: Any, env: Any, device: str) -> dict[str, Any]:
    """What ran: call at the end of training, with the environment still open."""
    isaac, cuda = cfg.family == "isaaclab", str(device).startswith("cuda")
    act, update = getattr(agent, "_graphed_act", None), getattr(agent, "_graphed_mini_batch", None)
    active: dict[str, Any] = {
        "lean": hasattr(agent, "_episode_stats"),
        "cuda_graphs": {"act": act is not None, "update": update is not None},
        "cpu_graph": isaac and not cuda and _physics_graph_captured(),
    }
    if isaac:
        raw = getattr(env, "_unwrapped", env)
        # the Warp twins live in isaaclab_tasks_experimental (direct tasks) or isaaclab_experimental (manager-based)
        package = type(raw).__module__.partition(".")[0]
        active["env_frontend"] = "warp" if package in ("isaaclab_experimental", "isaaclab_tasks_experimental") else "torch"
    return active


def switched_off(want: dict[str, Any], active: dict[str, Any]) -> list[str]:
    """The requested switches that did not take effect, each with what was seen instead."""
    off = []
    for name, value in want.items():
        seen = active.get(name)
        if name == "cuda_graphs":
            if not (seen and all(seen.values())):
                off.append(f"cuda_graphs (graphed: {seen})")
        elif seen != value:
            off.append(f"{name} (requested {value!r}, ran {seen!r})")
    return off


def report(cfg: TaskConfig, agent: Any, env: Any, device: str) -> dict[str, Any]:
    """{'requested', 'active', 'off'} for train_result.json and the Pipes metadata."""
    want = requested(cfg, device)
    active = observe(cfg, agent, env, device)
    return {"requested": want, "active": active, "off": switched_off(want, active)}
