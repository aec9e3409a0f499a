"""`local` backend: the trainer as a Pipes subprocess on this machine (real CPU, or local GPU, training)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg

from robotics_assets.lib.launch.base import (
    LaunchMonitor,
    LaunchRequest,
    kernel_cache_env,
)

if TYPE_CHECKING:
    from robotics_assets.lib.settings import Settings

# What a local trainer process may see of the code location's environment (issue 15): enough to run Python, find
# the GPU, tune threads and reach MLflow and the artifact store. The code location holds secrets the trainer never
# needs (the instance's database password, OSMO and Key Vault credentials, whatever the host exports), and a trainer
# runs a task config written by others, so nothing else is passed. `backend_options.pass_env` adds names.
TRAINER_ENV_NAMES = frozenset({
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR",
    "PYTHONPATH", "PYTHONUNBUFFERED", "PYTHONHASHSEED", "PYTHONDONTWRITEBYTECODE", "PYTHONWARNINGS", "VIRTUAL_ENV",
    "LD_LIBRARY_PATH", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
    "ROBOTICS_DATA_DIR", "ISAACSIM_ASSET_ROOT",
    # MLflow: the trainer logs the run itself (trainer/tracking.py), with the server's own auth variables
    "MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_INSECURE_TLS", "MLFLOW_TRACKING_SERVER_CERT_PATH", "MLFLOW_TRACKING_CLIENT_CERT_PATH",
    "MLFLOW_HTTP_REQUEST_TIMEOUT", "MLFLOW_HTTP_REQUEST_MAX_RETRIES",
    # Azure storage for a Blob --run-dir / kernel cache / Pipes over Blob (trainer/storage/identity.py)
    "AZURE_STORAGE_CONNECTION_STRING", "ROBOTICS_AZURE_AUTH", "AZURE_CLIENT_ID", "AZURE_TENANT_ID",
    "AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST", "AZURE_CONFIG_DIR",
})
# Families of tuning knobs (threads, CUDA, Warp, torch, NCCL, the trainer's own), minus any secret-looking name.
TRAINER_ENV_PREFIXES = ("LC_", "OMP_", "MKL_", "OPENBLAS_", "CUDA_", "NVIDIA_", "NCCL_", "WARP_", "TORCH_",
                        "PYTORCH_", "TRAINER_")
_SECRET_NAME = re.compile(r"(?i)token|secret|passw|credential|key|sas|signature|connection_string|auth")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def trainer_env_from(host: Mapping[str, str], extra_names: frozenset[str] = frozenset()) -> dict[str, str]:
    """The part of the host's environment a local trainer process gets (TRAINER_ENV_NAMES, the tuning prefixes)."""
    return {
        name: value
        for name, value in host.items()
        if name in TRAINER_ENV_NAMES or name in extra_names
        or (name.startswith(TRAINER_ENV_PREFIXES) and not _SECRET_NAME.search(name))
    }


class ProcessGroupPipesClient(dg.PipesSubprocessClient):
    """PipesSubprocessClient that runs the command in its own process group and stops the whole group.

    The stock client signals only its direct child; the trainer's own children (Warp/kernel compilers, data loader
    workers) would outlive a terminated Dagster run. SIGINT first (the trainer saves and exits), then SIGTERM, then
    SIGKILL: a child started from a backgrounded shell inherits an ignored SIGINT, so SIGINT alone is not enough.
    """

    pass_env: frozenset[str] = frozenset()  # host variables passed besides TRAINER_ENV_NAMES

    def run(  # type: ignore[override]
        self,
        *,
        context: dg.AssetExecutionContext | dg.OpExecutionContext,
        extras: Mapping[str, Any] | None = None,
        command: list[str],
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        monitor: LaunchMonitor | None = None,
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
                env={**trainer_env_from(os.environ, self.pass_env), **self.env, **(env or {}),
                     **session.get_bootstrap_env_vars()},
                start_new_session=True,
            )
            try:
                if monitor is None:
                    process.wait()
                else:
                    watch(process, session, monitor)
                    if monitor.stopped and process.poll() is None:
                        context.log.info(f"[launcher] stopping the trainer: {monitor.stopped}")
                        stop_process_group(process, self.termination_timeout_seconds)
            except (dg.DagsterExecutionInterruptedError, KeyboardInterrupt):
                context.log.info("[launcher] run interrupted: stopping the trainer's process group")
                stop_process_group(process, self.termination_timeout_seconds)
                raise
            finally:
                if process.poll() is None:  # any other error while waiting: never leave training behind
                    stop_process_group(process, self.termination_timeout_seconds)
            if process.returncode != 0 and not (monitor is not None and monitor.stopped):
                raise dg.Failure(  # public, like the remote backends' failures (PipesSubprocessClient's own is not)
                    description=f"trainer exited with code {process.returncode}"
                    + (" (bad input: see the task config error above)" if process.returncode == 2 else ""),
                    metadata={"exit_code": process.returncode},
                )
        if monitor is not None:  # the whole curve, with the points read after the last check
            monitor.observe(session.get_custom_messages())
        return dg.PipesClientCompletedInvocation(session)


def watch(process: subprocess.Popen, session: dg.PipesSession, monitor: LaunchMonitor) -> None:
    """Wait for the process, asking `monitor` every `interval_s` whether to stop it (then return at once)."""
    while True:
        try:
            process.wait(timeout=monitor.interval_s)
            return
        except subprocess.TimeoutExpired:
            if monitor.check(session.get_custom_messages()):
                return


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
        pass_env: list[str] | tuple[str, ...] = (),
    ):
        self.python = python or sys.executable
        self.module = module
        bad = [n for n in pass_env if not isinstance(n, str) or not _ENV_NAME.fullmatch(n)]
        if bad:
            raise ValueError(f"backend_options.pass_env: {bad} are not environment variable names")
        self._client = ProcessGroupPipesClient(env=dict(env or {}), cwd=cwd, termination_timeout_seconds=termination_grace_s)
        self._client.pass_env = frozenset(pass_env)

    @classmethod
    def from_settings(cls, settings: Settings, region: str) -> LocalBackend:
        options = dict(settings.region(region).backend_options)
        unknown = set(options) - {"python", "module", "termination_grace_s", "pass_env"}
        if unknown:
            raise ValueError(
                f"{settings.path}: regions.{region}.backend_options: unknown {sorted(unknown)} for the local backend "
                "(allowed: python, module, termination_grace_s, pass_env)"
            )
        if not isinstance(options.get("pass_env", []), list):
            raise ValueError(  # noqa: TRY004 - a settings error, reported like the others here
                f"{settings.path}: regions.{region}.backend_options.pass_env: expected a list of variable names"
            )
        env = {**settings.trainer_env(), **kernel_cache_env(settings, region)}  # off unless the region sets it
        return cls(env=env, cwd=str(settings.project_root), **options)

    def launch(
        self,
        context: dg.AssetExecutionContext,
        request: LaunchRequest,
        *,
        extras: Mapping[str, Any] | None = None,
        monitor: LaunchMonitor | None = None,
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
                monitor=monitor,
            )
