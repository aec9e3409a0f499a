"""`local` backend: the trainer as a Pipes subprocess on this machine (real CPU, or local GPU, training)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
from dagster._core.errors import (
    DagsterExecutionInterruptedError,
    DagsterPipesExecutionError,
)

from robotics_assets.lib.launch.base import LaunchRequest, kernel_cache_env

if TYPE_CHECKING:
    from robotics_assets.lib.settings import Settings


class ProcessGroupPipesClient(dg.PipesSubprocessClient):
    """PipesSubprocessClient that runs the command in its own process group and stops the whole group.

    The stock client signals only its direct child; the trainer's own children (Warp/kernel compilers, data loader
    workers) would outlive a terminated Dagster run. SIGINT first (the trainer saves and exits), then SIGTERM, then
    SIGKILL: a child started from a backgrounded shell inherits an ignored SIGINT, so SIGINT alone is not enough.
    """

    def run(  # type: ignore[override]
        self,
        *,
        context: dg.AssetExecutionContext | dg.OpExecutionContext,
        extras: Mapping[str, Any] | None = None,
        command: list[str],
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> dg.PipesClientCompletedInvocation:
        with dg.open_pipes_session(
            context=context,
            context_injector=self.context_injector,
            message_reader=self.message_reader,
            extras=extras,
        ) as session:
            process = subprocess.Popen(
                command,
                cwd=cwd or self.cwd,
                env={**os.environ, **self.env, **(env or {}), **session.get_bootstrap_env_vars()},
                start_new_session=True,
            )
            try:
                process.wait()
            except (DagsterExecutionInterruptedError, KeyboardInterrupt):
                context.log.info("[launcher] run interrupted: stopping the trainer's process group")
                stop_process_group(process, self.termination_timeout_seconds)
                raise
            finally:
                if process.poll() is None:  # any other error while waiting: never leave training behind
                    stop_process_group(process, self.termination_timeout_seconds)
            if process.returncode != 0:
                raise DagsterPipesExecutionError(
                    f"trainer exited with code {process.returncode}"
                    + (" (bad input: see the task config error above)" if process.returncode == 2 else "")
                )
        return dg.PipesClientCompletedInvocation(session)


def stop_process_group(process: subprocess.Popen, grace_s: float) -> None:
    """Signal the process group with escalating signals until it has exited."""
    for sig, wait_s in ((signal.SIGINT, grace_s), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            continue
        # the leader is gone; make sure nothing else in its group survives
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return


class LocalBackend:
    """Runs `<python> -m <module> <step> ...` in a subprocess; the task config goes to a temp file.

    `python` defaults to this interpreter; point it at another environment's interpreter to keep the trainer's
    dependencies apart from Dagster's (`regions.<r>.backend_options: {python: ..., module: ...}`).
    """

    name = "local"

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        termination_grace_s: float = 20,
        python: str | None = None,
        module: str = "trainer",
    ):
        self.python = python or sys.executable
        self.module = module
        self._client = ProcessGroupPipesClient(env=dict(env or {}), cwd=cwd, termination_timeout_seconds=termination_grace_s)

    @classmethod
    def from_settings(cls, settings: Settings, region: str) -> LocalBackend:
        options = dict(settings.region(region).backend_options)
        unknown = set(options) - {"python", "module", "termination_grace_s"}
        if unknown:
            raise ValueError(
                f"{settings.path}: regions.{region}.backend_options: unknown {sorted(unknown)} for the local backend "
                "(allowed: python, module, termination_grace_s)"
            )
        env = {**settings.trainer_env(), **kernel_cache_env(settings, region)}  # off unless the region sets it
        return cls(env=env, cwd=str(settings.project_root), **options)

    def launch(
        self,
        context: dg.AssetExecutionContext,
        request: LaunchRequest,
        *,
        extras: Mapping[str, Any] | None = None,
    ) -> dg.PipesClientCompletedInvocation:
        with tempfile.TemporaryDirectory(prefix=f"trainer-{request.step}-") as tmp:
            config_path = Path(tmp) / f"{request.task}.yaml"
            config_path.write_text(request.config_yaml)
            command = [self.python, "-m", self.module, *request.trainer_args(str(config_path))]
            context.log.info(f"[launcher] local: {' '.join(command)}")
            return self._client.run(
                context=context,
                command=command,
                env={**request.env, **({"CUDA_VISIBLE_DEVICES": ""} if request.gpus == 0 else {})},
                extras={"task": request.task, "region": request.region, "run_key": request.run_key, **(extras or {})},
            )
