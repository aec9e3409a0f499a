"""The launcher contract: what assets ask for, and what every compute backend must do.

Assets build a backend-neutral `LaunchRequest`; the region's backend (local subprocess, k8s, OSMO) runs
`python -m trainer <step> --config <file> <args>` under Dagster Pipes and returns the Pipes results. Assets never
branch on the backend, so a new backend is a new class registered by name (see `resource.py`), nothing else.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    import dagster as dg

    from robotics_assets.lib.settings import Settings

Step = Literal["train", "evaluate", "export"]
STEPS: tuple[str, ...] = ("train", "evaluate", "export")


@dataclass(frozen=True)
class LaunchRequest:
    """One trainer invocation, independent of where it runs.

    `config_yaml` is the task config's text: each backend places it where its process can read it and passes
    `--config <that path>` itself (a local file, a ConfigMap, a blob), so `args` never carries `--config`.
    Paths inside `args` (`--run-dir`, `--out`, `--checkpoint`) come from `TrainerLauncher.artifact_root(region)` or
    from upstream materialization metadata, both of which the region's backend understands.
    `run_key` identifies the logical launch (same task config, step, region and Dagster run): a backend that
    creates remote objects (pods, workflows) names or labels them with it so a retried launch finds and reuses its
    earlier attempt instead of starting a duplicate.
    `task_device` / `task_gpus` are the task config's `device` and `gpus` as the `task_config` materialization
    recorded them (the config is parsed once, on that side): a `train` step on CUDA asks for `task_gpus` GPUs.
    """

    task: str
    region: str
    step: Step
    config_yaml: str
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    gpus: int = 0
    run_key: str = ""
    task_device: str = "cpu"
    task_gpus: int = 1

    def __post_init__(self) -> None:
        if self.step not in STEPS:
            raise ValueError(f"LaunchRequest.step: {self.step!r} is not a trainer step (allowed: {', '.join(STEPS)})")
        if not self.task or not self.region:
            raise ValueError("LaunchRequest.task and LaunchRequest.region must be non-empty")
        if self.gpus < 0:
            raise ValueError(f"LaunchRequest.gpus: {self.gpus} must be >= 0")
        if "--config" in self.args:
            raise ValueError("LaunchRequest.args: do not pass --config; put the YAML text in config_yaml")
        if not self.run_key:
            object.__setattr__(self, "run_key", default_run_key(self))

    def trainer_args(self, config_path: str) -> list[str]:
        """Arguments after `python -m trainer`, with the backend's path to the task config."""
        return [self.step, "--config", config_path, *self.args]


def default_run_key(request: LaunchRequest) -> str:
    """Short stable hash of everything that makes a launch the same launch (RFC 1123 friendly: hex only)."""
    payload = json.dumps(
        [request.task, request.region, request.step, request.config_yaml, request.args, request.gpus],
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _arg_value(args: list[str], flag: str) -> str | None:
    """The value argparse would see for `flag` (the last one wins; `--flag value` or `--flag=value`)."""
    value = None
    for i, arg in enumerate(args):
        if arg == flag and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith(f"{flag}="):
            value = arg.split("=", 1)[1]
    return value


def with_task_gpus(request: LaunchRequest) -> LaunchRequest:
    """A `train` step that runs on CUDA asks for the task config's `gpus` (one trainer process per GPU).

    The region's `gpus` setting says whether (and how many GPUs) its launches get; for training on CUDA the task
    config's `gpus` wins, so a `gpus: 2` task gets a 2-GPU pod/workflow in any GPU region. A region with no GPUs
    cannot run a multi-GPU task: that is an error naming both settings. `--device` in the args (e.g. a region's
    `trainer_args: {device: cpu}`) is what the trainer will use, so it decides.
    """
    if request.step != "train":
        return request
    device = _arg_value(request.args, "--device") or request.task_device
    task_gpus = request.task_gpus
    if device != "cuda" or task_gpus < 1:
        return request
    if request.gpus == 0:
        if task_gpus > 1:
            raise ValueError(
                f"task {request.task}: gpus: {task_gpus} (device: cuda) needs a GPU region, but region "
                f"{request.region} launches get no GPUs (regions.{request.region}.gpus / training.gpus is 0); "
                f"set it for this region, or train this task elsewhere"
            )
        return request
    return request if request.gpus == task_gpus else dataclasses.replace(request, gpus=task_gpus)


def kernel_cache_env(settings: Settings, region: str) -> dict[str, str]:
    """`TRAINER_KERNEL_CACHE` for the region's trainer processes (a fresh GPU pod restores compiled Warp kernels).

    One prefix per region; the trainer keeps one cache per task beneath it (`<prefix>/<task>/...`, its trust
    domain: trainer/kernel_cache.py), so the launchers never hand one task's compiled code to another.
    """
    from trainer.kernel_cache import KERNEL_CACHE_ENV

    uri = settings.kernel_cache_uri(region)
    return {KERNEL_CACHE_ENV: uri} if uri else {}


class LaunchMonitor(Protocol):
    """Watches a running launch (sweep trials' early stopping: lib/early_stopping.py).

    A backend calls `check(messages)` every `interval_s` with the Pipes custom messages received so far in the
    current attempt; a returned reason means: stop the launch through the backend's own cancel path and return
    normally (not a failure). The reason stays in `stopped`. `observe(messages)` gets each attempt's messages once
    it has ended (the points that arrived after the last check).
    """

    interval_s: float
    stopped: str | None

    def check(self, messages: Sequence[Any]) -> str | None: ...

    def observe(self, messages: Sequence[Any]) -> None:
        """Called once when the launch (or a remote attempt) has ended, with all its custom messages."""
        ...


@runtime_checkable
class Backend(Protocol):
    """A compute backend for one region. Built by a factory registered in `resource.py`."""

    name: str

    def launch(
        self,
        context: dg.AssetExecutionContext,
        request: LaunchRequest,
        *,
        extras: Mapping[str, Any] | None = None,
        monitor: LaunchMonitor | None = None,
    ) -> dg.PipesClientCompletedInvocation:
        """Run the trainer step to completion under Pipes; raise on failure; stop it when the run is terminated,
        or when `monitor` says so (then return normally)."""
        ...


class BackendFactory(Protocol):
    """Builds the backend of one region from deployment settings (called at run time, never at import)."""

    def __call__(self, settings: Settings, region: str) -> Backend: ...
