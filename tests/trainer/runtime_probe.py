"""Step an Isaac Lab locomotion task (Ant, Humanoid) in both Isaac Lab runtimes through `trainer.envs.make_env`, from the same state with the same
actions, and print every step's observations as JSON (for tests/trainer/test_warp_sensors.py; a subprocess, since
Isaac Lab must not be imported into the pytest process).

    python -m tests.trainer.runtime_probe CONFIG STEPS

Both runtimes start from the task's default joint state (the initial-state noise is set to 0: the two runtimes draw
it from different generators), and env 0 is put 3 steps before its time limit, so it resets inside the run.
"""

from __future__ import annotations

import json
import sys


def _no_initial_noise() -> None:
    from trainer.isaaclab_compat import prepare_isaaclab_import
    from trainer.sim_assets import configure_asset_root

    configure_asset_root()  # what make_env does first: Isaac Lab reads the asset root when it is imported
    prepare_isaaclab_import("cpu")
    from isaaclab_tasks import utils

    resolve = utils.resolve_task_config

    def resolve_without_noise(*args, **kwargs):
        env_cfg, agent_cfg = resolve(*args, **kwargs)
        env_cfg.initial_joint_pos_range = env_cfg.initial_joint_vel_range = (0.0, 0.0)
        return env_cfg, agent_cfg

    utils.resolve_task_config = resolve_without_noise


def run(config: str, steps: int) -> dict[str, list]:
    import torch

    from trainer.config import load_task_config
    from trainer.envs import make_env

    cfg = load_task_config(config)
    _no_initial_noise()
    out = {}
    for frontend in ("torch", "warp"):
        cfg.performance.env_frontend = frontend
        with make_env(cfg, num_envs=2, seed=0, device="cpu") as env:
            raw = env.unwrapped
            shape = (steps, 2, env.action_space.shape[0])
            actions = torch.rand(shape, generator=torch.Generator().manual_seed(0)) * 3.0 - 1.5  # some beyond +-1
            obs, _ = env.reset()
            raw.episode_length_buf[0] = int(raw.max_episode_length) - 3  # in place: the Warp env's buffer is a view
            seen = [obs.tolist()]
            for t in range(steps):
                obs, _, _, _, _ = env.step(actions[t])
                seen.append(obs.tolist())
            out[frontend] = seen
    return out


if __name__ == "__main__":
    print("RESULT " + json.dumps(run(sys.argv[1], int(sys.argv[2]))))
