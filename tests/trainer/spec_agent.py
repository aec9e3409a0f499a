"""A skrl PPO agent built from a task config without a simulator: the tests feed its transitions by hand."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch

from trainer.agent import build_runner
from trainer.config import load_task_config


class SpecEnv(gym.Env):
    """Carries a task's spaces only (default: Cartpole's)."""

    def __init__(self, obs_dim: int = 4, act_dim: int = 1) -> None:
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (obs_dim,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (act_dim,), np.float32)

    def reset(self, seed=None, options=None):
        return np.zeros(self.observation_space.shape, np.float32), {}

    def step(self, action):
        return np.zeros(self.observation_space.shape, np.float32), 0.0, False, False, {}


def spec_agent(config: str, *, device: str, num_envs: int, memory_size: int, agent: dict[str, Any],
               obs_dim: int = 4, act_dim: int = 1) -> Any:
    """The PPO agent `config`'s runner builds (with `agent` merged into its agent section), initialised, no writes."""
    from skrl.envs.wrappers.torch import wrap_env

    agent_cfg = load_task_config(config).agent_cfg()
    agent_cfg["agent"].update(agent)
    agent_cfg["agent"]["experiment"].update({"write_interval": 0, "checkpoint_interval": 0})
    env = wrap_env(SpecEnv(obs_dim, act_dim), wrapper="gymnasium", verbose=False)
    env._device = torch.device(device)  # skrl's gymnasium wrapper has no device argument
    runner = build_runner(env, agent_cfg, None, training=False)
    built = runner.agent
    built.memory = type(built.memory)(memory_size=memory_size, num_envs=num_envs, device=device)
    built.init(trainer_cfg=runner.trainer.cfg)
    return built
