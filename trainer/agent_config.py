"""The skrl agent config a task trains with: the task's Isaac Lab `skrl_*_cfg.yaml` (or a packaged one) + the task
config's overrides, and a run directory's saved `agent.yaml`, each checked against trainer/agent_schema.py.

Pure Python (YAML and dicts, no torch, no skrl): task-config validation calls it, so it stays cheap. Building the
skrl Runner from the result is trainer/agent.py.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from trainer import safe_yaml
from trainer.agent_schema import (
    AgentConfigError,
    check,
    check_runner_cfg,
    translate_deprecated,
)


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


def resolve_agent_cfg(
    base_path: Path, overrides: dict[str, Any], *, seed: int, checkpoint_interval: int, timesteps: int
) -> dict[str, Any]:
    """The skrl runner config a task config trains with: its base YAML + its `agent.overrides` + its own fields
    (`seed`, `checkpoint_interval`, `timesteps`). `TaskConfig.agent_cfg()` is the way to get it (resolved once)."""
    errors = check(overrides, "agent.overrides", overrides=True)
    if errors:
        raise AgentConfigError("\n".join(errors))
    merged = merge_overrides(load_base(base_path), overrides)
    agent = merged["agent"]
    rollouts = agent.get("rollouts")
    if not isinstance(rollouts, int) or isinstance(rollouts, bool) or rollouts <= 0:
        raise AgentConfigError(f"agent.overrides.agent.rollouts: must be a positive integer, got {rollouts!r}")
    if checkpoint_interval % rollouts:
        raise AgentConfigError(
            f"checkpoint_interval: {checkpoint_interval} is not a multiple of agent.rollouts ({rollouts}); "
            f"checkpoints must fall on PPO update boundaries so a resume continues exactly (allowed: "
            f"{rollouts}, {2 * rollouts}, {4 * rollouts}, ...)"
        )
    if timesteps < rollouts:
        raise AgentConfigError(f"timesteps: {timesteps} is shorter than one rollout (allowed: >= {rollouts})")

    merged["seed"] = seed
    experiment = agent["experiment"] = agent.get("experiment") or {}
    experiment["checkpoint_interval"] = checkpoint_interval
    if experiment.get("write_interval", "auto") == "auto":
        experiment["write_interval"] = rollouts  # one metrics point per PPO update
    experiment.setdefault("directory", "")
    experiment.setdefault("experiment_name", "")
    trainer = merged["trainer"]
    trainer["timesteps"] = timesteps
    trainer["headless"] = True
    trainer["disable_progressbar"] = True
    trainer["close_environment_at_exit"] = False
    # what is left to catch here is in the base itself: a task whose agent this trainer does not run (AMP, RNNs)
    return check_runner_cfg(merged, f"agent.base ({base_path.name} + overrides)")
