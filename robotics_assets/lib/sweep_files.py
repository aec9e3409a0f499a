"""Sweep files: a base task config fanned out into trials (one task partition each).

`task_configs/sweeps/<name>.yaml` names a base task config, a search space over its fields (grid or seeded random,
seeds as a dimension), the metric the trainer streams and its direction, an early-stopping rule and the regions to
run in. `parse_sweep` validates it (plain YAML through trainer/safe_yaml.py, pydantic, every problem as
`FILE: field: problem (fix)`); `expand` resolves every trial into a full task config that passes the trainer's own
validation, so a sweep whose 7th trial would be refused is refused as a whole, before anything is launched.
Trial names are `<sweep>--t<NN>`: deterministic, valid partition keys, and `--` is reserved for them (a task config
file may not use it).
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import random
import re
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    ValidationError,
    model_validator,
)

from robotics_assets.lib.task_sources import (
    TaskConfigError,
    content_hash,
    validate_task_config,
)

SWEEPS_FOLDER = "sweeps"  # under the task-config location
TRIAL_SEPARATOR = "--"
TRIAL_KEY = re.compile(r"^(?P<sweep>[a-z0-9][a-z0-9_-]*?)--t(?P<index>\d{2})$")
MAX_TRIALS = 100  # two digits in the trial name
# What a sweep may vary: where a task config's training behaviour lives. Not `name`/`task` (the trial's identity),
# nor `success`/`export` (every trial is judged by the same gate), nor `device`/`gpus` (the launch's shape).
SWEEPABLE = ("seed", "num_envs", "timesteps", "checkpoint_interval", "agent.base", "agent.overrides.",
             "performance.")
METRICS = ("mean_return", "mean_episode_length")


class SweepError(ValueError):
    """A sweep file that cannot be used; the message names the file, the field and the fix."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Parameter(_Strict):
    """One dimension: a list of `values` (grid or random choice) or a `min`..`max` range (random only)."""

    values: list[Any] | None = Field(default=None, min_length=1)
    min: float | None = None
    max: float | None = None
    scale: Literal["linear", "log"] = "linear"
    integer: bool = False

    @model_validator(mode="after")
    def _one_kind(self) -> Parameter:
        ranged = self.min is not None or self.max is not None
        if self.values is not None and ranged:
            raise ValueError("give either values or min/max, not both")
        if self.values is None:
            if self.min is None or self.max is None:
                raise ValueError("needs values: [..] or both min and max")
            if self.min >= self.max:
                raise ValueError(f"min {self.min} must be below max {self.max}")
            if self.scale == "log" and self.min <= 0:
                raise ValueError(f"scale: log needs min > 0, got {self.min}")
        return self


class Search(_Strict):
    method: Literal["grid", "random"]
    trials: PositiveInt | None = Field(default=None, description="random: how many configurations to sample")
    seed: int = Field(default=0, ge=0, description="random: the sampler's seed (same file, same trials)")
    parameters: dict[str, Parameter] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _method_fits(self) -> Search:
        if self.method == "random" and self.trials is None:
            raise ValueError("method: random needs trials: N (how many configurations to sample)")
        if self.method == "grid":
            if self.trials is not None:
                raise ValueError("method: grid runs every combination; remove trials (or use method: random)")
            ranged = [k for k, p in self.parameters.items() if p.values is None]
            if ranged:
                raise ValueError(f"method: grid needs values: [..] for every parameter; {', '.join(ranged)} "
                                 "give a min/max range (list values, or use method: random)")
        return self


class Metric(_Strict):
    name: Literal["mean_return", "mean_episode_length"] = Field(
        description="what the trainer streams during training (Pipes) and the report ranks by")
    direction: Literal["maximize", "minimize"] = "maximize"


class EarlyStopping(_Strict):
    rule: Literal["none", "median", "successive_halving"] = "none"
    grace_timesteps: PositiveInt = Field(
        default=1, description="no trial is stopped before this timestep (per env, like the task's timesteps)")
    min_completed_trials: PositiveInt = Field(
        default=2, description="median: stop only when at least this many trials of the sweep have completed")
    reduction_factor: int = Field(
        default=3, ge=2, description="successive_halving: keep the top 1/factor at each rung (grace x factor^k)")
    check_interval_s: float = Field(default=1.0, gt=0, le=600,
                                    description="how often the orchestrator compares a running trial")


class SweepFile(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_]*(-[a-z0-9_]+)*$", max_length=58,
                      description="the file name; trials are <name>--tNN")
    description: str = ""
    base: str = Field(description="the task config the trials start from (its name, e.g. inverted_pendulum)")
    regions: list[str] | None = Field(default=None, min_length=1,
                                      description="where trials run, round-robin (default: every region)")
    seeds: list[int] | None = Field(default=None, min_length=1,
                                    description="every configuration is trained once per seed")
    fixed: dict[str, Any] = Field(default_factory=dict,
                                  description="changes to the base applied to every trial (same paths as parameters)")
    search: Search
    metric: Metric
    early_stopping: EarlyStopping = Field(default_factory=EarlyStopping)


@dataclass(frozen=True)
class Trial:
    name: str  # the task partition key
    index: int
    region: str
    params: dict[str, Any]  # dotted path -> value (seed included when it varies)
    config_yaml: str  # the resolved task config (base + params), validated

    @property
    def config_sha256(self) -> str:
        return content_hash(self.config_yaml.encode())


@dataclass(frozen=True)
class Sweep:
    spec: SweepFile
    sha256: str  # of the sweep file and its base config: a change to either is a new revision
    location: str
    trials: list[Trial] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.spec.name

    def summary(self) -> dict[str, Any]:
        """What every trial's task_config carries as metadata (the policy asset reads its sweep from there)."""
        return {"sweep": self.name, "sweep_sha256": self.sha256, "sweep_base": self.spec.base,
                "sweep_metric": self.spec.metric.name, "sweep_direction": self.spec.metric.direction,
                "sweep_early_stopping": self.spec.early_stopping.model_dump(mode="json"),
                "sweep_trials": [t.name for t in self.trials]}


def trial_name(sweep: str, index: int) -> str:
    return f"{sweep}{TRIAL_SEPARATOR}t{index:02d}"


def split_trial(name: str) -> tuple[str, int] | None:
    """`pendulum_lr--t03` -> ("pendulum_lr", 3); None for a task that is not a trial."""
    m = TRIAL_KEY.match(name)
    return (m["sweep"], int(m["index"])) if m else None


def is_trial_partition(key: str) -> bool:
    """A task or task × region partition key ("region|task") of a sweep trial."""
    return any(split_trial(part) for part in str(key).split("|"))


def _where(location: str, name: str) -> str:
    return f"{location.rstrip('/')}/{name}.yaml" if location else f"{name}.yaml"


def _lines(error: ValidationError, label: str) -> str:
    out = []
    for err in error.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or "<root>"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field (allowed: name, description, base, regions, seeds, fixed, search, metric, " \
                  "early_stopping; " \
                  "search: method, trials, seed, parameters; early_stopping: rule, grace_timesteps, " \
                  "min_completed_trials, reduction_factor, check_interval_s)"
        elif err["type"] == "missing":
            msg = "required field is missing"
        elif err["type"] == "literal_error":
            msg = f"{msg}, got {err.get('input')!r}"
        elif err["type"] == "string_pattern_mismatch":
            msg = (f"{err.get('input')!r} is not a sweep name (lower-case letters, digits, '_' and single '-'; "
                   "'--' is reserved for trial names)")
        elif "input" in err and not isinstance(err["input"], dict):
            msg = f"{msg}, got {err['input']!r}"
        out.append(f"{label}: {loc}: {msg}")
    return "\n".join(out)


def parse_sweep(content: bytes | str, *, name: str, location: str = "") -> SweepFile:
    """The sweep file's own rules (not yet its trials: see `expand`)."""
    from trainer import safe_yaml

    label = _where(location, name)
    try:
        data = safe_yaml.loads(content)
    except safe_yaml.YAMLDataError as e:
        raise SweepError(f"{label}: {e}") from None
    if not isinstance(data, dict):
        raise SweepError(f"{label}: <root>: expected a mapping of fields, got {type(data).__name__}")
    try:
        spec = SweepFile.model_validate(data)
    except ValidationError as e:
        raise SweepError(_lines(e, label)) from None
    if spec.name != name:
        raise SweepError(f"{label}: name: {spec.name!r} must match the file name {name!r} (rename the file to "
                         f"{spec.name}.yaml or set name: {name})")
    for where, paths in (("search.parameters", list(spec.search.parameters)), ("fixed", list(spec.fixed))):
        for path in paths:
            if path == "seed" and spec.seeds:
                raise SweepError(f"{label}: {where}.seed: seeds are already a dimension (seeds: {spec.seeds}); "
                                 "remove one of them")
            if not (path in SWEEPABLE or any(path.startswith(p) and len(path) > len(p) for p in SWEEPABLE
                                             if p.endswith("."))):
                raise SweepError(f"{label}: {where}.{path}: not a field a sweep may vary (allowed: seed, num_envs, "
                                 "timesteps, checkpoint_interval, agent.base, agent.overrides.<key>..., "
                                 "performance.<switch>)")
    both = set(spec.fixed) & set(spec.search.parameters)
    if both:
        raise SweepError(f"{label}: fixed: {', '.join(sorted(both))} also searched in search.parameters (keep one)")
    if not spec.search.parameters and not spec.seeds:
        raise SweepError(f"{label}: search.parameters: empty (name at least one parameter, or give seeds: [..])")
    return spec


def _sample(p: Parameter, rng: random.Random) -> Any:
    if p.values is not None:
        return p.values[rng.randrange(len(p.values))]
    assert p.min is not None and p.max is not None
    if p.scale == "log":
        x = math.exp(rng.uniform(math.log(p.min), math.log(p.max)))
    else:
        x = rng.uniform(p.min, p.max)
    return round(x) if p.integer else float(f"{x:.4g}")  # short, readable values in names and tables


def configurations(spec: SweepFile) -> list[dict[str, Any]]:
    """The parameter sets, in a fixed order (grid: file order, last parameter fastest; random: seeded draws),
    each repeated per seed."""
    params = spec.search.parameters
    if spec.search.method == "grid":
        names = list(params)
        combos = [dict(zip(names, vals, strict=True)) for vals in itertools.product(*(params[n].values or []
                                                                                      for n in names))]
    else:
        rng = random.Random(spec.search.seed)
        combos = [{n: _sample(params[n], rng) for n in params} for _ in range(spec.search.trials or 0)]
    if spec.seeds:
        combos = [{**c, "seed": s} for c in combos for s in spec.seeds]
    return combos


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    node = data
    parts = path.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise KeyError(part)
        node = child
    node[parts[-1]] = value


def expand(spec: SweepFile, sweep_content: bytes, base_content: bytes, *, location: str,
           regions: list[str]) -> Sweep:
    """Every trial as a validated task config; one SweepError naming the file, the trial and the field."""
    from trainer import safe_yaml

    label = _where(location, spec.name)
    run_in = spec.regions or list(regions)
    unknown = [r for r in run_in if r not in regions]
    if unknown:
        raise SweepError(f"{label}: regions: {', '.join(unknown)} not among the enabled regions (allowed: "
                         f"{', '.join(regions)})")
    combos = configurations(spec)
    if len(combos) > MAX_TRIALS:
        raise SweepError(f"{label}: search: {len(combos)} trials (allowed: at most {MAX_TRIALS}; fewer values, "
                         "fewer seeds or fewer random trials)")
    base = safe_yaml.loads(base_content)
    sha = content_hash(sweep_content + b"\0" + base_content)
    trials = []
    for index, params in enumerate(combos):
        name = trial_name(spec.name, index)
        data = copy.deepcopy(base)
        data["name"] = name
        data["description"] = f"sweep {spec.name} trial {index:02d} of {spec.base}: " + json.dumps(params)
        for path, value in {**spec.fixed, **params}.items():
            try:
                _set(data, path, value)
            except KeyError as e:
                raise SweepError(f"{label}: search.parameters.{path}: {spec.base}.yaml has a non-mapping value at "
                                 f"{e.args[0]!r} (vary a leaf field)") from None
        content = yaml.safe_dump(data, sort_keys=False)
        try:
            validate_task_config(name, content.encode())
        except TaskConfigError as e:
            detail = str(e).replace(f"{name}.yaml: ", "")
            raise SweepError(f"{label}: trial {name} {json.dumps(params)} is not a valid task config: {detail} "
                             "(change search.parameters)") from None
        trials.append(Trial(name=name, index=index, region=run_in[index % len(run_in)], params=params,
                            config_yaml=content))
    return Sweep(spec=spec, sha256=sha, location=location, trials=trials)


def load_sweep(name: str, content: bytes, read_base: Any, *, location: str, regions: list[str]) -> Sweep:
    """Parse, read the base task config (`read_base(base_name) -> bytes`) and expand."""
    spec = parse_sweep(content, name=name, location=location)
    label = _where(location, name)
    if split_trial(spec.base) or TRIAL_SEPARATOR in spec.base:
        raise SweepError(f"{label}: base: {spec.base!r} is a trial; name a task config (e.g. inverted_pendulum)")
    try:
        base_content = read_base(spec.base)
    except TaskConfigError as e:
        raise SweepError(f"{label}: base: {spec.base!r}: {e}") from None
    try:
        validate_task_config(spec.base, base_content)
    except TaskConfigError as e:
        raise SweepError(f"{label}: base: {spec.base!r} is not a valid task config: {e}") from None
    return expand(spec, content, base_content, location=location, regions=regions)
