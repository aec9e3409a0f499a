"""What a skrl runner config may hold, and which of it a task config may override: data only, never code.

skrl 2.1.1's Runner turns parts of its config into code (skrl/utils/runner/torch/runner.py `_process_cfg`:
`eval()` of `learning_rate_scheduler`, `*_preprocessor`, `exploration_noise`, `smooth_regularization_noise`,
`eval(f"lambda ...: {exploration_scheduler}")`; skrl/utils/model_instantiators/torch/{gaussian,deterministic,
shared,common}.py paste a model's `network` names, `input`, layer arguments and `output` into a class body that they
`exec()`, and the shared model also pastes its role names, `class` names and `clip_*`/`*_log_std`/`reduction`
values; `_component` resolves `class` names by string). So the config is checked against this allowlist at every
depth, with skrl's types (its `PPO_CFG`, `ExperimentCfg`, `TrainerCfg` dataclasses and the instantiators'
signatures): twice, once on the task config's overrides (which may touch only the `overridable` leaves) and once on
the merged config right before the Runner is built, including an `agent.yaml` read back from a run directory.
Keys that skrl evaluates but this trainer does not need (`exploration_*`, `smooth_regularization_noise`,
`amp_*`, `rewards_shaper`) are simply not in the allowlist.
"""

from __future__ import annotations

import difflib
import keyword
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class AgentConfigError(ValueError):
    """The agent section of a task config (or a run's agent.yaml) is wrong; each line starts with the field path."""


@dataclass(frozen=True)
class Leaf:
    allowed: str  # shown in errors: what values fit
    fits: Callable[[Any], bool]
    overridable: bool = True


Section = dict[str, "Leaf | Section"]


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def num(lo: float | None = None, hi: float | None = None, *, above: float | None = None) -> Leaf:
    bounds = [f">= {lo}" if lo is not None else "", f"> {above}" if above is not None else "",
              f"<= {hi}" if hi is not None else ""]
    return Leaf(
        "a finite number " + " and ".join(b for b in bounds if b) if any(bounds) else "a finite number",
        lambda v: _number(v) and (lo is None or v >= lo) and (hi is None or v <= hi) and (above is None or v > above),
    )


def integer(lo: int, *, overridable: bool = True, also: tuple[Any, ...] = ()) -> Leaf:
    extra = "".join(f" or {a!r}" for a in also)
    return Leaf(f"an integer >= {lo}{extra}",
                lambda v: (isinstance(v, int) and not isinstance(v, bool) and v >= lo) or _is_one_of(v, also),
                overridable)


def flag(*, overridable: bool = True) -> Leaf:
    return Leaf("true or false", lambda v: isinstance(v, bool), overridable)


def _is_one_of(value: Any, choices: tuple[Any, ...]) -> bool:
    return any(type(value) is type(c) and value == c for c in choices)


def one_of(*choices: Any, overridable: bool = True) -> Leaf:
    return Leaf(", ".join("null" if c is None else str(c) for c in choices), lambda v: _is_one_of(v, choices),
                overridable)


def text(pattern: str, allowed: str, *, overridable: bool = True) -> Leaf:
    return Leaf(allowed, lambda v: isinstance(v, str) and re.fullmatch(pattern, v) is not None, overridable)


@dataclass(frozen=True)
class Kwargs:
    """`*_kwargs`: null or a mapping of the listed keys (skrl passes them to the class as keyword arguments)."""

    keys: Section


@dataclass(frozen=True)
class Network:
    """A model's `network:` list; skrl pastes it into code, so it is a fixed grammar and never overridable."""

    overridable: bool = False


ACTIVATIONS = ("elu", "leaky_relu", "relu", "selu", "sigmoid", "softmax", "softplus", "softsign", "tanh")
INPUTS = ("OBSERVATIONS", "STATES")
_RESERVED = {"self", "inputs", "role", "output", "torch", "nn", "observations", "states", "taken_actions",
             "functional"}
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,31}")

_SCALER = Kwargs({"epsilon": num(above=0), "clip_threshold": num(above=0)})  # RunningStandardScaler's arguments
_KL_ADAPTIVE = Kwargs({k: num(above=0) for k in ("kl_threshold", "min_lr", "max_lr", "kl_factor", "lr_factor")})


def _model(cls: str, output: str, *, gaussian: bool) -> Section:
    section: Section = {
        "class": one_of(cls, overridable=False),
        "clip_actions": flag(),
        "network": Network(),  # type: ignore[dict-item]
        "output": one_of(output, overridable=False),
    }
    if gaussian:
        section |= {"clip_mean_actions": flag(), "clip_log_std": flag(), "min_log_std": num(),
                    "max_log_std": num(), "initial_log_std": num(), "fixed_log_std": flag(),
                    "reduction": one_of("mean", "sum", "prod", "none")}
    return section


RUNNER: Section = {
    "seed": integer(0, overridable=False),  # the task config's `seed`
    "models": {
        "separate": flag(),
        "policy": _model("GaussianMixin", "ACTIONS", gaussian=True),
        "value": _model("DeterministicMixin", "ONE", gaussian=False),
    },
    "memory": {
        "class": one_of("RandomMemory", overridable=False),
        "memory_size": integer(1, overridable=False, also=(-1,)),  # -1 = agent.rollouts
    },
    "agent": {
        "class": one_of("PPO", overridable=False),
        "rollouts": integer(1),
        "learning_epochs": integer(1),
        "mini_batches": integer(1),
        "discount_factor": num(0, 1),
        "gae_lambda": num(0, 1),
        "learning_rate": num(above=0),
        "learning_rate_scheduler": one_of("KLAdaptiveLR", None),
        "learning_rate_scheduler_kwargs": _KL_ADAPTIVE,  # type: ignore[dict-item]
        "observation_preprocessor": one_of("RunningStandardScaler", None),
        "observation_preprocessor_kwargs": _SCALER,  # type: ignore[dict-item]
        "state_preprocessor": one_of("RunningStandardScaler", None),
        "state_preprocessor_kwargs": _SCALER,  # type: ignore[dict-item]
        "value_preprocessor": one_of("RunningStandardScaler", None),
        "value_preprocessor_kwargs": _SCALER,  # type: ignore[dict-item]
        "grad_norm_clip": num(0),
        "ratio_clip": num(0),
        "value_clip": num(0),
        "entropy_loss_scale": num(0),
        "value_loss_scale": num(0),
        "kl_threshold": num(0),
        "rewards_shaper_scale": num(),
        "time_limit_bootstrap": flag(),
        "mixed_precision": flag(),
        "experiment": {
            "directory": text(r".*", "set by the trainer", overridable=False),
            "experiment_name": text(r".*", "set by the trainer", overridable=False),
            "write_interval": integer(0, also=("auto",)),
            "checkpoint_interval": integer(0, overridable=False, also=("auto",)),  # the task config's own field
        },
    },
    "trainer": {
        "class": one_of("SequentialTrainer", overridable=False),
        "timesteps": integer(1, overridable=False),  # the task config's `timesteps`
        "headless": flag(overridable=False),
        "disable_progressbar": flag(overridable=False),
        "close_environment_at_exit": flag(overridable=False),
        "environment_info": text(r"[A-Za-z_][A-Za-z0-9_]{0,63}", "an identifier such as log or episode"),
        # not here: `render_interval` (always headless) and `stochastic_evaluation` (trainer/evaluate.py always
        # evaluates the mean action): keys nothing would read
    },
}

# skrl 1.x names that Isaac Lab's agent YAMLs still use, and what skrl 2 calls them (translate_deprecated)
RENAMED = {"lambda": "gae_lambda", "clip_predicted_values": "value_clip (a clip range; 0 = off)",
           "shared_state_preprocessor": "state_preprocessor",
           "random_timesteps": "nothing (off-policy only: remove it)",
           "learning_starts": "nothing (off-policy only: remove it)"}


def translate_deprecated(cfg: dict[str, Any]) -> dict[str, Any]:
    """Rewrite skrl 1.x agent keys to skrl 2 in place, as skrl's Runner._check_cfg_compatibility would.

    skrl does the same on every Runner, with five warnings per training (Isaac Lab's YAMLs use all five): doing it
    once here keeps the console quiet and the saved agent.yaml in the names skrl actually reads.
    """
    agent = cfg.get("agent")
    if not isinstance(agent, dict):
        return cfg
    if "lambda" in agent:
        agent["gae_lambda"] = agent.pop("lambda")
    if "clip_predicted_values" in agent:
        clip = agent.pop("clip_predicted_values")
        agent["value_clip"] = agent.get("value_clip", 0.2) if clip else 0.0
    if "state_preprocessor" in agent and "observation_preprocessor" not in agent:
        agent["observation_preprocessor"] = agent.pop("state_preprocessor")
        agent["observation_preprocessor_kwargs"] = agent.pop("state_preprocessor_kwargs", None)
    if "shared_state_preprocessor" in agent:
        agent["state_preprocessor"] = agent.pop("shared_state_preprocessor")
        agent["state_preprocessor_kwargs"] = agent.pop("shared_state_preprocessor_kwargs", None)
    if str(agent.get("class", "")).lower() in ("a2c", "amp", "ppo", "rpo", "trpo", "ippo", "mappo"):
        for name in ("random_timesteps", "learning_starts"):
            agent.pop(name, None)
    return cfg


def _keys(section: Section, overrides: bool) -> str:
    keys = [k for k, v in section.items() if not overrides or getattr(v, "overridable", True)]
    return ", ".join(keys) or "nothing in this section"


def _check_network(value: Any, where: str, errors: list[str]) -> None:
    if not isinstance(value, list) or not 1 <= len(value) <= 16:
        errors.append(f"{where}: expected a list of 1 to 16 containers, got {value!r:.80}")
        return
    names: list[str] = []
    for i, item in enumerate(value):
        at = f"{where}[{i}]"
        if not isinstance(item, dict):
            errors.append(f"{at}: expected a mapping (allowed keys: name, input, layers, activations)")
            continue
        for key in item.keys() - {"name", "input", "layers", "activations"}:
            errors.append(f"{at}.{key}: unknown field (allowed: name, input, layers, activations)")
        name = item.get("name")
        if not (isinstance(name, str) and _IDENT.fullmatch(name) and not keyword.iskeyword(name)
                and name not in _RESERVED and name not in names):
            errors.append(f"{at}.name: {name!r:.80} is not a new identifier (allowed: letters, digits, _; not "
                          f"{', '.join(sorted(_RESERVED))})")
        if not _is_one_of(item.get("input"), (*INPUTS, *names)):
            errors.append(f"{at}.input: {item.get('input')!r:.80} is not an input (allowed: "
                          f"{', '.join((*INPUTS, *names))})")
        layers = item.get("layers")
        if not isinstance(layers, list) or not 1 <= len(layers) <= 32 or not all(_layer(x) for x in layers):
            errors.append(f"{at}.layers: {layers!r:.80} (allowed: 1 to 32 layers, each a unit count 1..65536, "
                          "'flatten' or {conv2d: {out_channels, kernel_size, stride, padding}} of integers)")
        acts = item.get("activations", [])
        acts_list = [acts] if isinstance(acts, str) else acts
        if not isinstance(acts_list, list) or not all(_is_one_of(a, ACTIVATIONS) for a in acts_list) or (
                isinstance(layers, list) and len(acts_list) not in (0, 1, len(layers))):
            errors.append(f"{at}.activations: {acts!r:.80} (allowed: one of {', '.join(ACTIVATIONS)}, or a list "
                          "of them, one per layer)")
        if isinstance(name, str):
            names.append(name)


def _small_int(value: Any, lo: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= 65536


def _layer(layer: Any) -> bool:
    if layer == "flatten" and isinstance(layer, str):
        return True
    if _small_int(layer, 1):
        return True
    if isinstance(layer, dict) and layer.keys() == {"conv2d"} and isinstance(layer["conv2d"], dict):
        conv = layer["conv2d"]
        return conv.keys() <= {"out_channels", "kernel_size", "stride", "padding"} and "out_channels" in conv and all(
            _small_int(v, 1 if k != "padding" else 0) for k, v in conv.items())
    return False


def check(data: Any, where: str, *, overrides: bool, section: Section = RUNNER) -> list[str]:
    """Problems of `data` against `section`, one `path: problem (allowed: ...)` line each ([] = fine).

    `overrides=True` checks a task config's `agent.overrides`: only overridable leaves, nothing required.
    `overrides=False` checks a complete runner config: every key must be known, every value of skrl's type.
    """
    errors: list[str] = []
    if not isinstance(data, dict):
        return [f"{where or '<root>'}: expected a mapping of keys, got {data!r:.80}"]
    for key, value in data.items():
        name = key if isinstance(key, str) and _IDENT.fullmatch(key) else repr(key)  # a key may hold a payload
        at = f"{where}.{name}" if where else name
        spec = section.get(key) if isinstance(key, str) else None
        if spec is None:
            hint = f"{RENAMED[key]} in skrl 2; " if key in RENAMED else ""
            near = difflib.get_close_matches(str(key), list(section), n=3, cutoff=0.5)
            hint += f"did you mean {', '.join(near)}? " if near and not hint else ""
            kind = "renamed or removed agent key" if key in RENAMED else "unknown agent key"
            errors.append(f"{at}: {kind} ({hint}allowed: {_keys(section, overrides)})")
        elif overrides and not getattr(spec, "overridable", True):
            why = "is code to skrl" if isinstance(spec, Network) or key in ("class", "output") else "is set by the trainer"
            errors.append(f"{at}: not overridable ({why}; allowed here: {_keys(section, overrides)})")
        elif isinstance(spec, Network):
            _check_network(value, at, errors)
        elif isinstance(spec, Kwargs):
            if value is not None:
                errors += check(value, at, overrides=overrides, section=spec.keys)
        elif isinstance(spec, dict):
            if value is None and overrides and key == "experiment":
                continue  # null = the trainer's defaults
            errors += check(value, at, overrides=overrides, section=spec)
        elif not spec.fits(value):
            errors.append(f"{at}: {value!r:.80} is not valid (allowed: {spec.allowed})")
    return errors


REQUIRED = ("models.policy.class", "models.policy.network", "models.value.class", "models.value.network",
            "memory.class", "agent.class", "agent.rollouts", "trainer.class")


def _has(cfg: dict[str, Any], dotted: str) -> bool:
    node: Any = cfg
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def check_runner_cfg(cfg: Any, label: str = "") -> dict[str, Any]:
    """The complete runner config, with deprecated names translated; raises AgentConfigError naming each field
    (each line prefixed with `label: ` when given: the file or what the config is)."""
    if isinstance(cfg, dict):
        translate_deprecated(cfg)
    errors = check(cfg, "", overrides=False)
    if not errors:
        errors = [f"{path}: required field is missing" for path in REQUIRED if not _has(cfg, path)]
    if errors:
        raise AgentConfigError("\n".join(f"{label}: {line}" if label else line for line in errors))
    return cfg
