"""skrl agent config (the task's Isaac Lab `skrl_*_cfg.yaml` + the task config's overrides) and the skrl Runner.

`resolve_agent_cfg` is pure Python (no torch) so config validation stays cheap; `build_runner` imports skrl lazily.
"""

from __future__ import annotations

import copy
import difflib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from trainer.config import TaskConfig

# skrl's Runner eval()s these string values: only known class names may reach it, never arbitrary code.
_EVALUATED_KEYS = {
    "learning_rate_scheduler": {"KLAdaptiveLR"},
    "observation_preprocessor": {"RunningStandardScaler"},
    "state_preprocessor": {"RunningStandardScaler"},
    "value_preprocessor": {"RunningStandardScaler"},
}


# Sections the trainer fills in itself: an override may change their keys, not replace them with null.
_REQUIRED_SECTIONS = {"agent.overrides.agent", "agent.overrides.trainer", "agent.overrides.models",
                      "agent.overrides.models.policy", "agent.overrides.models.value"}


class AgentConfigError(ValueError):
    """The agent section of a task config is wrong; the message starts with the field path."""


def _load_base(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise AgentConfigError(f"agent.base: no such agent YAML {str(path)!r} (allowed: 'task' or a path to a file)")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise AgentConfigError(f"agent.base: {path} is not valid YAML: {getattr(exc, 'problem', exc)}") from None
    except UnicodeDecodeError:
        raise AgentConfigError(f"agent.base: {path} is not UTF-8 text (allowed: 'task' or a skrl agent YAML)") from None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), dict) for k in ("agent", "trainer")):
        raise AgentConfigError(
            f"agent.base: {path} is not a skrl runner config (needs 'agent' and 'trainer' mappings)"
        )
    return data


def merge_overrides(base: dict[str, Any], overrides: dict[str, Any], path: str = "agent.overrides") -> dict[str, Any]:
    """Deep-merge `overrides` onto a copy of `base`; a key absent from `base` is an error naming the nearest keys."""
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        where = f"{path}.{key}"
        if key not in merged:
            near = difflib.get_close_matches(str(key), [str(k) for k in merged], n=3, cutoff=0.5)
            hint = f"did you mean {', '.join(near)}? " if near else ""
            raise AgentConfigError(f"{where}: unknown agent key ({hint}allowed: {', '.join(map(str, merged))})")
        if isinstance(merged[key], dict) and isinstance(value, dict):
            merged[key] = merge_overrides(merged[key], value, where)
        elif isinstance(merged[key], dict) and (value is not None or where in _REQUIRED_SECTIONS):
            raise AgentConfigError(f"{where}: expected a mapping of keys, got {value!r}")
        else:
            merged[key] = value
    return merged


def _check_evaluated(agent: dict[str, Any]) -> None:
    for key, allowed in _EVALUATED_KEYS.items():
        value = agent.get(key)
        if value is not None and (not isinstance(value, str) or value not in allowed):
            raise AgentConfigError(
                f"agent.overrides.agent.{key}: unsupported value {value!r} (allowed: {', '.join(sorted(allowed))}, null)"
            )


def resolve_agent_cfg(cfg: TaskConfig) -> dict[str, Any]:
    """The skrl runner config this task config trains with (base YAML + overrides + the task config's own fields)."""
    merged = merge_overrides(_load_base(cfg.agent_base_path()), cfg.agent.overrides)
    agent = merged["agent"]
    _check_evaluated(agent)
    rollouts = agent.get("rollouts")
    if not isinstance(rollouts, int) or rollouts <= 0:
        raise AgentConfigError(f"agent.overrides.agent.rollouts: must be a positive integer, got {rollouts!r}")
    if cfg.checkpoint_interval % rollouts:
        raise AgentConfigError(
            f"checkpoint_interval: {cfg.checkpoint_interval} is not a multiple of agent.rollouts ({rollouts}); "
            f"checkpoints must fall on PPO update boundaries so a resume continues exactly (allowed: "
            f"{rollouts}, {2 * rollouts}, {4 * rollouts}, ...)"
        )
    if cfg.timesteps < rollouts:
        raise AgentConfigError(f"timesteps: {cfg.timesteps} is shorter than one rollout (allowed: >= {rollouts})")

    merged["seed"] = cfg.seed
    experiment = agent["experiment"] = agent.get("experiment") or {}
    if not isinstance(experiment, dict):
        raise AgentConfigError(f"agent.overrides.agent.experiment: expected a mapping of keys, got {experiment!r}")
    experiment["checkpoint_interval"] = cfg.checkpoint_interval
    if experiment.get("write_interval", "auto") == "auto":
        experiment["write_interval"] = rollouts  # one metrics point per PPO update
    experiment.setdefault("directory", "")
    experiment.setdefault("experiment_name", "")
    trainer = merged["trainer"]
    trainer["timesteps"] = cfg.timesteps
    trainer["headless"] = True
    trainer["disable_progressbar"] = True
    trainer["close_environment_at_exit"] = False
    return merged


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
    from skrl.utils.runner.torch import Runner

    cfg = copy.deepcopy(agent_cfg)
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
