"""`make_env(cfg)`: the task's vectorized environment, wrapped for skrl, as a context manager.

- `isaaclab:` tasks run kit-less on Newton physics via `isaaclab.app.launch_simulation` (no Isaac Sim), with the
  offline asset root configured first (Isaac Lab reads it when it is imported).
- `gymnasium:` tasks run as a `SyncVectorEnv` with float32 observations and SAME_STEP autoreset, which is what skrl's
  gymnasium wrapper expects of a vector env.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from trainer.config import TaskConfig


@contextlib.contextmanager
def make_env(
    cfg: TaskConfig,
    *,
    num_envs: int | None = None,
    seed: int | None = None,
    device: str | None = None,
    asset_root: str | None = None,
) -> Iterator[Any]:
    """Yield the skrl-wrapped env for `cfg` (num_envs/seed/device default to the config's); closed on exit.

    The env is seeded, and so are skrl's/torch's global generators (skrl's gymnasium wrapper seeds its first reset
    from skrl's global seed), so the same seed gives the same episodes. In a distributed run (trainer/distributed.py)
    skrl's `set_seed` adds the rank, and the env takes that seed too: each rank steps different episodes.
    """
    num_envs = num_envs or cfg.num_envs
    seed = cfg.seed if seed is None else seed
    device = device or cfg.device
    from skrl.utils import set_seed

    seed = set_seed(seed)  # seed + rank in a distributed run
    if cfg.family == "isaaclab":
        with _isaaclab_env(cfg.task_id, num_envs, seed, device, asset_root, cfg.performance.cpu_graph,
                           cfg.performance.env_frontend) as env:
            yield env
    else:
        with _gymnasium_env(cfg.task_id, num_envs, seed, device) as env:
            yield env


@contextlib.contextmanager
def _isaaclab_env(
    task_id: str, num_envs: int, seed: int, device: str, asset_root: str | None, cpu_graph: bool,
    frontend: str = "torch",
) -> Iterator[Any]:
    from trainer.sim_assets import configure_asset_root

    configure_asset_root(asset_root)
    from trainer.isaaclab_compat import prepare_isaaclab_import

    prepare_isaaclab_import(device)
    import gymnasium as gym
    import isaaclab_tasks  # noqa: F401  (registers the Isaac-* gym ids)
    from isaaclab.app import launch_simulation
    from isaaclab_tasks.utils import resolve_task_config

    if device == "cpu":
        from trainer.cpu_graph import set_cpu_graph

        set_cpu_graph(cpu_graph)

    env_cfg, _ = resolve_task_config(task_id, None, overrides=[])
    env_cfg.scene.num_envs = num_envs
    env_cfg.sim.device = device
    env_cfg.seed = seed
    with launch_simulation(env_cfg, {"headless": True, "device": device}):
        from isaaclab_rl.skrl import SkrlVecEnvWrapper

        if frontend == "warp":  # Isaac Lab's own `--frontend warp` path: the task id's Warp twin
            from isaaclab_experimental.envs.frontend import WarpFrontend

            from trainer.warp_sensors import fix_warp_runtime_sensors

            fix_warp_runtime_sensors(env_cfg)  # else its sensors never update (Ant: feet wrenches always 0)

            raw = WarpFrontend.build_env(env_cfg, task_id)
        else:
            raw = gym.make(task_id, cfg=env_cfg)
        env = SkrlVecEnvWrapper(raw, ml_framework="torch")
        try:
            yield env
        finally:
            env.close()


@contextlib.contextmanager
def _gymnasium_env(task_id: str, num_envs: int, seed: int, device: str) -> Iterator[Any]:
    import gymnasium as gym
    import numpy as np
    from skrl.envs.wrappers.torch import wrap_env

    def make_one() -> gym.Env:
        return gym.wrappers.DtypeObservation(gym.make(task_id), np.float32)

    venv = gym.vector.SyncVectorEnv(
        [make_one] * num_envs, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP
    )
    venv.action_space.seed(seed)
    env = wrap_env(venv, wrapper="gymnasium", verbose=False)
    env._device = _torch_device(device)  # skrl's gymnasium wrapper has no device argument
    try:
        yield env
    finally:
        env.close()


def _torch_device(device: str):
    import torch

    return torch.device(device)
