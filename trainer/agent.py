"""The skrl Runner built from a resolved agent config (trainer/agent_config.py), with the training state every
checkpoint carries. skrl is imported when a runner is built, never at module load."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

from trainer.agent_schema import check_runner_cfg


class TrainingState:
    """Checkpointed alongside the networks so a resume restores counters, best-so-far and RNG, not just weights.

    Registered as a skrl checkpoint module (anything with state_dict/load_state_dict), so it travels inside
    every `agent_<step>.pt` without changing skrl's checkpoint format.
    """

    def __init__(self, agent: Any) -> None:
        self.agent = agent
        self.timestep = 0

    def state_dict(self) -> dict[str, Any]:
        import torch

        scheduler = getattr(self.agent, "scheduler", None)
        best = self.agent.checkpoint_best_modules
        return {
            "timestep": self.timestep,
            "best_timestep": best["timestep"],
            "best_reward": best["reward"],
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "torch_rng": torch.get_rng_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        import torch

        self.timestep = int(state["timestep"])
        best = self.agent.checkpoint_best_modules
        best["timestep"], best["reward"] = state["best_timestep"], state["best_reward"]
        scheduler = getattr(self.agent, "scheduler", None)
        if scheduler is not None and state.get("scheduler") is not None:
            scheduler.load_state_dict(state["scheduler"])
        if state.get("torch_rng") is not None:
            torch.set_rng_state(state["torch_rng"].cpu())


def build_runner(env: Any, agent_cfg: dict[str, Any], experiment_dir: str | os.PathLike | None, *, training: bool = True):
    """skrl Runner for `env`; checkpoints/TensorBoard go to `experiment_dir` (None or training=False: none written).

    The runner's agent carries a `training_state` checkpoint module (see TrainingState), reachable as
    `runner.agent.checkpoint_modules["training_state"]`.
    """
    cfg = check_runner_cfg(copy.deepcopy(agent_cfg), "runner config")  # the last gate before skrl eval()s anything
    from skrl.utils.runner.torch import Runner

    experiment = cfg["agent"].setdefault("experiment", {})
    if training and experiment_dir is not None:
        experiment_dir = Path(experiment_dir).resolve()
        experiment["directory"] = str(experiment_dir.parent)
        experiment["experiment_name"] = experiment_dir.name
    else:
        experiment.update(write_interval=0, checkpoint_interval=0, directory="", experiment_name="")
        experiment["directory"] = str(Path(experiment_dir or os.getcwd()).resolve())
        experiment["experiment_name"] = "eval"
    runner = Runner(env, cfg)
    runner.agent.checkpoint_modules["training_state"] = TrainingState(runner.agent)
    return runner
