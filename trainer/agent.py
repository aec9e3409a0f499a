"""skrl agent config (the task's Isaac Lab `skrl_*_cfg.yaml` + the task config's overrides) and the skrl Runner.

`resolve_agent_cfg` is pure Python (no torch) so config validation stays cheap; `build_runner` imports skrl lazily.
"""

from __future__ import annotations

import copy
import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainer import safe_yaml
from trainer.agent_schema import (
    AgentConfigError,
    check,
    check_runner_cfg,
    translate_deprecated,
)

if TYPE_CHECKING:
    from trainer.config import TaskConfig

__all__ = ["AgentConfigError", "build_runner", "check_runner_cfg", "load_run_agent_cfg", "merge_overrides",
           "resolve_agent_cfg"]


@functools.lru_cache(maxsize=64)  # bases are the packaged and Isaac Lab YAMLs (~50); keyed by mtime so edits count
def _parsed_base(path: str, mtime_ns: int) -> dict[str, Any]:
    try:
        data = safe_yaml.loads(safe_yaml.read(path))
    except safe_yaml.YAMLDataError as exc:
        raise AgentConfigError(f"agent.base: {path}: {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), dict) for k in ("agent", "trainer")):
        raise AgentConfigError(f"agent.base: {path} is not a skrl runner config (needs 'agent' and 'trainer' mappings)")
    return translate_deprecated(data)


def _plain_copy(data: Any) -> Any:
    """A deep copy of YAML data (dicts, lists, scalars): ~4x faster than copy.deepcopy, which the sensor feels."""
    if isinstance(data, dict):
        return {k: _plain_copy(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_plain_copy(v) for v in data]
    return data


def load_base(path: Path) -> dict[str, Any]:
    """The base agent YAML (a packaged or the task's own file, never a user path), skrl 1.x names translated."""
    return _plain_copy(_parsed_base(str(path), path.stat().st_mtime_ns))


def load_run_agent_cfg(path: Path) -> dict[str, Any]:
    """A run directory's agent.yaml, checked like a task config's (the store is writable by others): plain YAML,
    every key on the allowlist with skrl's type. Raises AgentConfigError naming the file and the field."""
    try:
        data = safe_yaml.loads(safe_yaml.read(path))
    except safe_yaml.YAMLDataError as exc:
        raise AgentConfigError(f"{path}: {exc}") from None
    return check_runner_cfg(data, str(path))


def merge_overrides(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """`base` with `overrides` (already checked against the allowlist) merged in; sections the overrides do not
    touch are shared with `base`, so pass a base of your own (load_base returns a fresh copy)."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(merged.get(key), dict) and isinstance(value, dict):
            merged[key] = merge_overrides(merged[key], value)
        else:
            merged[key] = _plain_copy(value)
    return merged


def resolve_agent_cfg(cfg: TaskConfig) -> dict[str, Any]:
    """The skrl runner config this task config trains with (base YAML + overrides + the task config's own fields)."""
    errors = check(cfg.agent.overrides, "agent.overrides", overrides=True)
    if errors:
        raise AgentConfigError("\n".join(errors))
    base_path = cfg.agent_base_path()
    merged = merge_overrides(load_base(base_path), cfg.agent.overrides)
    agent = merged["agent"]
    rollouts = agent.get("rollouts")
    if not isinstance(rollouts, int) or isinstance(rollouts, bool) or rollouts <= 0:
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
    # what is left to catch here is in the base itself: a task whose agent this trainer does not run (AMP, RNNs)
    return check_runner_cfg(merged, f"agent.base ({base_path.name} + overrides)")


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
