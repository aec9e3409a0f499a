"""Typed task-config schema and `load_task_config(path)`.

A task config names a task (`family:id`), how long and how wide to train, the agent settings (the task's own
Isaac Lab `skrl_*_cfg.yaml` plus overrides), success criteria for evaluation and export settings. Every problem
becomes one `ConfigError` line `FILE: field.path: what was wrong (allowed: ...)`, never a traceback from skrl or
Isaac Lab. Parsing is cheap (no torch import): `parse_task_config(content, label)` is the one validation that
`python -m trainer validate`, the Dagster sensor, the `task_config` asset and `quickstart --task` all apply.
A config is data: plain YAML (trainer/safe_yaml.py) and agent settings from an allowlist (trainer/agent_schema.py).
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from trainer import capacity, safe_yaml, tasks
from trainer.agent_config import AgentConfigError, resolve_agent_cfg


class ConfigError(ValueError):
    """A task config is unusable; the message names the file, the field and the fix."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class AgentSpec(_Strict):
    base: str = Field(
        default="task",
        description="'task' = the task's own Isaac Lab skrl_*_cfg.yaml (gymnasium: the packaged default), or the "
        "name of an agent YAML packaged in trainer/agents/ (never a path: nothing on the host is probed)",
    )
    overrides: dict[str, Any] = Field(
        default_factory=dict,
        description="nested keys merged onto the base config; only the keys in trainer/agent_schema.py that are "
        "data to skrl (no network, output, class or other key skrl evaluates)",
    )

    @field_validator("base")
    @classmethod
    def _known_base(cls, value: str) -> str:
        if value != "task" and value not in tasks.packaged_agents():
            raise ValueError(f"must be task or the name of an agent YAML packaged with the trainer, never a path "
                             f"(allowed: task, {', '.join(tasks.packaged_agents())})")
        return value


class SuccessCriteria(_Strict):
    min_mean_episode_length: float | None = Field(default=None, ge=0)
    min_mean_return: float | None = None
    min_success_rate: float | None = Field(default=None, ge=0, le=1)
    episodes: PositiveInt = 100


class ExportSettings(_Strict):
    opset: int = Field(default=17, ge=17, le=23)
    latency_batch_sizes: list[PositiveInt] = Field(default_factory=lambda: [1, 1024], min_length=1)
    parity_observations: int = Field(default=1000, ge=1000)
    max_abs_diff: float = Field(default=1e-5, gt=0)


class PerformanceSettings(_Strict):
    lean: bool = Field(
        default=False,
        description="sync-free PPO loop (trainer/lean.py): same learning maths, no per-step host-device syncs; "
        "worth it on GPUs, neutral on CPU",
    )
    cpu_graph: bool = Field(
        default=True,
        description="Isaac Lab tasks on CPU: replay the physics step as a Warp CPU graph (trainer/cpu_graph.py); "
        "bit-identical results, ~4x faster stepping; false = Isaac Lab's eager CPU path",
    )
    cuda_graphs: bool = Field(
        default=True,
        description="with `lean` on a CUDA device: replay the policy act and each PPO mini-batch step as CUDA graphs "
        "(trainer/graphs.py); same maths, a few kernel launches instead of hundreds",
    )
    env_frontend: Literal["torch", "warp"] = Field(
        default="torch",
        description="Isaac Lab tasks: the env runtime, as Isaac Lab's `--frontend` selects it. 'warp' "
        "(isaaclab_experimental) runs the same task id's Warp twin with its step captured in CUDA graphs and "
        "mask-based resets (no host syncs); 'torch' is the stable env",
    )


class TaskConfig(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", description="short id used in run paths and partitions")
    description: str = ""
    task: str = Field(description="family:id, e.g. isaaclab:Isaac-Cartpole-Direct")
    num_envs: PositiveInt
    timesteps: PositiveInt = Field(description="training length in env-steps per env (skrl timesteps)")
    seed: int = Field(default=42, ge=0)
    device: str = Field(default="cpu", pattern=r"^(cpu|cuda(:\d+)?)$")
    gpus: PositiveInt = Field(
        default=1,
        description="GPUs of one node to train on, one process (rank) each; num_envs is per rank "
        "(trainer/distributed.py)",
    )
    checkpoint_interval: PositiveInt = Field(description="timesteps between checkpoints (a multiple of rollouts)")
    agent: AgentSpec = Field(default_factory=AgentSpec)
    success: SuccessCriteria = Field(default_factory=SuccessCriteria)
    export: ExportSettings = Field(default_factory=ExportSettings)
    performance: PerformanceSettings = Field(default_factory=PerformanceSettings)

    _source: Path | None = PrivateAttr(default=None)
    _agent_cfg: dict[str, Any] | None = PrivateAttr(default=None)  # resolved once, when validated

    @field_validator("task")
    @classmethod
    def _known_task(cls, value: str) -> str:
        family, sep, task_id = value.partition(":")
        if not sep or family not in tasks.FAMILIES or not task_id:
            raise ValueError(f"expected family:id with family one of {', '.join(tasks.FAMILIES)}")
        if tasks.lookup(value) is None:
            raise ValueError(f"unknown task {value!r} (allowed: {', '.join(tasks.known_tasks())})")
        return value

    @field_validator("gpus")
    @classmethod
    def _gpus_need_cuda(cls, value: int, info: ValidationInfo) -> int:
        device = info.data.get("device")
        if value > 1 and device is not None and device != "cuda":
            raise ValueError(
                f"more than one GPU trains as one process per GPU and needs device: cuda (each rank then uses "
                f"cuda:LOCAL_RANK), not device: {device!r} (allowed: 1 with any device; more with device: cuda)"
            )
        return value

    @model_validator(mode="after")
    def _frontend_needs_isaaclab(self) -> TaskConfig:
        if self.performance.env_frontend != "torch" and self.family != "isaaclab":
            raise ValueError(
                f"performance.env_frontend: {self.performance.env_frontend!r} is an Isaac Lab env runtime; "
                f"{self.family} tasks run as they are (allowed here: torch)"
            )
        return self

    @property
    def task_ref(self) -> tasks.TaskRef:
        ref = tasks.lookup(self.task)
        assert ref is not None  # validated
        return ref

    @property
    def family(self) -> str:
        return self.task_ref.family

    @property
    def task_id(self) -> str:
        return self.task_ref.task_id

    @property
    def source(self) -> Path | None:
        """The file this config was loaded from (None when parsed from bytes), for messages."""
        return self._source

    def agent_base_path(self) -> Path:
        if self.agent.base == "task":
            return self.task_ref.agent_yaml
        return tasks.packaged_agents()[self.agent.base]

    def with_overrides(self, **changes: Any) -> TaskConfig:
        """A copy with CLI-style overrides (None values are ignored), validated like a file."""
        changes = {k: v for k, v in changes.items() if v is not None}
        if not changes:  # nothing to change: keep this config and its resolved agent config
            return self
        data = {**self.model_dump(), **changes}
        return _validate(data, str(self._source or "<overrides>"), self._source)

    def agent_cfg(self) -> dict[str, Any]:
        """The skrl runner config this config trains with (a copy: callers may change it)."""
        if self._agent_cfg is None:
            self._agent_cfg = self._resolve_agent_cfg()
        return copy.deepcopy(self._agent_cfg)

    def _resolve_agent_cfg(self) -> dict[str, Any]:
        return resolve_agent_cfg(self.agent_base_path(), self.agent.overrides, seed=self.seed,
                                 checkpoint_interval=self.checkpoint_interval, timesteps=self.timesteps)

    def resolved(self) -> dict[str, Any]:
        """The config as run: every default filled in and the merged agent config alongside."""
        return {"task_config": self.model_dump(mode="json"), "agent": self.agent_cfg()}

    def config_sha256(self) -> str:
        canonical = json.dumps(self.resolved(), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()


def _format_loc(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "<root>"


def _allowed_for(model: type[BaseModel], loc: tuple[Any, ...]) -> str:
    """Field names valid at the parent of `loc` (for unknown-field errors)."""
    current: Any = model
    for part in loc[:-1]:
        field = getattr(current, "model_fields", {}).get(part)
        if field is None or not isinstance(field.annotation, type) or not issubclass(field.annotation, BaseModel):
            return ""
        current = field.annotation
    return ", ".join(getattr(current, "model_fields", {}))


def validation_lines(error: ValidationError) -> list[str]:
    lines = []
    for err in error.errors(include_url=False):
        loc = tuple(err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = f"unknown field (allowed: {_allowed_for(TaskConfig, loc)})"
        elif err["type"] == "missing":
            msg = "required field is missing"
        elif err["type"] == "finite_number":
            msg = f"must be a finite number, got {err['input']!r} (allowed: any number but .nan, .inf, -.inf)"
        elif "input" in err and err["type"] not in ("missing",) and not isinstance(err["input"], dict):
            msg = f"{msg}, got {err['input']!r}"
        lines.append(f"{_format_loc(loc)}: {msg}")
    return lines


def _validate(data: Any, label: str, source: Path | None) -> TaskConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"{label}: <root>: expected a mapping of fields, got {type(data).__name__}")
    try:
        cfg = TaskConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError("\n".join(f"{label}: {line}" for line in validation_lines(exc))) from None
    cfg._source = source
    try:
        agent = cfg._agent_cfg = cfg._resolve_agent_cfg()
    except AgentConfigError as exc:
        raise ConfigError("\n".join(f"{label}: {line}" for line in str(exc).splitlines())) from None
    problem = capacity.num_envs_problem(cfg.num_envs, cfg.device, cfg.family, agent["agent"]["rollouts"])
    if problem:
        raise ConfigError(f"{label}: num_envs: {problem}")
    return cfg


def check_file_name(cfg: TaskConfig, stem: str, label: str) -> None:
    """A config's `name` is its file name: the name is the Dagster partition key and the file is what users edit."""
    if cfg.name != stem:
        raise ConfigError(
            f"{label}: name: {cfg.name!r} must match the file name {stem!r} (rename the file to {cfg.name}.yaml or "
            f"set name: {stem})"
        )


def parse_task_config(content: str | bytes, label: str, *, file_name: str | None = None,
                      source: Path | None = None) -> TaskConfig:
    """Validate a task config's text; `label` starts every error line (a path or URL), `file_name` (the file's
    stem) is checked against `name`. Raises ConfigError with `LABEL: field: problem (allowed: ...)`."""
    try:
        data = safe_yaml.loads(content)
    except safe_yaml.YAMLDataError as exc:
        raise ConfigError(f"{label}: {exc}") from None
    cfg = _validate(data, label, source)
    if file_name is not None:
        check_file_name(cfg, file_name, label)
    return cfg


def load_task_config(path: str | Path, *, check_name: bool = False) -> TaskConfig:
    """Read and validate a task config file; raises ConfigError with `FILE: field: problem (allowed: ...)`.

    `check_name`: also require `name` to equal the file name, as `trainer validate` and the Dagster side do.
    """
    path = Path(path)
    label = str(path)
    if not path.is_file():
        hint = "a YAML task config such as task_configs/cartpole.yaml"
        raise ConfigError(f"{label}: <file>: no such file ({'it is a directory; ' if path.is_dir() else ''}expected {hint})")
    try:
        content = safe_yaml.read(path)
    except safe_yaml.YAMLDataError as exc:
        raise ConfigError(f"{label}: {exc}") from None
    return parse_task_config(content, label, file_name=path.stem if check_name else None, source=path.resolve())


def dump_resolved(cfg: TaskConfig) -> str:
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
