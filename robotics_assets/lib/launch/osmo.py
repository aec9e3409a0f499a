"""`osmo` backend: the trainer step as an NVIDIA OSMO workflow, with restart-and-resume on disruption.

One attempt = one OSMO workflow, run by the shared loop of `remote.RemoteBackend` (take-over, twin refusal,
restart budget, cancel on termination). What is OSMO's own here:
- COMPLETED: the Pipes results come back;
- FAILED_BACKEND_ERROR / FAILED_EVICTED / FAILED_PREEMPTED, or FAILED with OSMO's infrastructure exit code (3001,
  3004, 3006; our `exitActions` turn those into FAILED instead of an in-place reschedule): a new attempt with
  `--resume` within the restart budget;
- FAILED_BACKEND_ERROR caused by a container configuration error (a missing secret key: CreateContainerConfigError)
  and any other FAILED*: the asset fails at once with OSMO's own failure text;
- stuck in the queue past `startup_timeout_s`: cancelled, asset fails.
A failed call with a refused JWT logs in again (`OsmoClient`); if even that fails while a workflow runs, the loop
cancels it or, when it cannot, fails the asset naming the workflow to cancel by hand.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import dagster as dg

from robotics_assets.lib.launch.base import LaunchRequest, kernel_cache_env
from robotics_assets.lib.launch.remote import (
    LABEL_RUN,
    AttemptState,
    LaunchIdentity,
    Owned,
    RemoteBackend,
    blob_pipes_defaults,
    check_option_keys,
    check_plain_env,
    pipes_transport,
    resume_args,
)
from robotics_assets.lib.osmo.client import OsmoClient, OsmoError
from robotics_assets.lib.osmo.spec import (
    Resources,
    WorkflowSpec,
    render_workflow,
    workflow_name,
)
from robotics_assets.lib.osmo.status import (
    ALIVE_STATES,
    CONFIG_ERROR_REASONS,
    DISRUPTION_EXIT_CODES,
    WorkflowStatus,
)
from robotics_assets.lib.secrets import redact

if TYPE_CHECKING:
    from robotics_assets.lib.settings import Settings

CONFIG_PATH = "/tmp/robotics/task.yaml"  # where the inline `files:` entry puts the task config in the container
TRANSIENT_RETRIES = 5  # consecutive 5xx / unreachable answers tolerated while a workflow runs


@dataclass(frozen=True)
class OsmoOptions:
    """Per-region OSMO choices (region settings `osmo.*` + `backend_options`)."""

    pool: str
    image: str
    resources: Resources = field(default_factory=Resources)
    credentials: Mapping[str, Mapping[str, str] | str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    output_url: str | None = None  # url: output for the task's {{output}} folder (azure://account/container/path)
    restart_budget: int = 3
    exec_timeout_s: float = 24 * 3600
    queue_timeout_s: float = 2 * 3600
    startup_timeout_s: float | None = None  # our own guard; default: queue_timeout_s + 5 min
    poll_interval_s: float = 10.0
    stream_logs: bool = True
    python: str = "python"
    module: str = "trainer"  # `python -m <module>`; the image's entry point
    pipes: str = "blob"
    pipes_options: Mapping[str, Any] = field(default_factory=dict)
    # GPUs of the region's largest GPU node (Terraform outputs): one OSMO task runs on one node. None: unchecked.
    gpus_per_node: int | None = None


class OsmoBackend(RemoteBackend):
    name = "osmo"
    noun = "OSMO workflow"

    def __init__(self, client: OsmoClient, options: OsmoOptions):
        self.client = client
        self.options = options
        check_plain_env(options.env, "backend_options.env")
        self._specs: dict[str, str] = {}  # workflow id -> the YAML submitted (run metadata of the success)
        self._seen: dict[str, WorkflowStatus] = {}  # last status logged per workflow

    @classmethod
    def from_settings(cls, settings: Settings, region: str) -> OsmoBackend:
        outputs = settings.region_outputs[region]
        opts = dict(settings.region(region).backend_options)
        check_option_keys(OsmoOptions, opts, f"{settings.path}: regions.{region}.backend_options",
                          extra=("token_secret",), derived=("pool", "gpus_per_node"))
        osmo = outputs.get("osmo") or {}
        where = f"{settings.regions_file}: {region}.osmo"
        if not osmo.get("enabled"):
            raise ValueError(f"{where}.enabled: OSMO is not enabled for this region (pick another backend)")
        for key in ("pool", "service_url"):
            if not osmo.get(key):
                raise ValueError(f"{where}.{key}: missing (set it in the region's Terraform outputs)")
        image = opts.pop("image", None) or (outputs.get("container_registry") or {}).get("trainer_image")
        if not image:
            raise ValueError(f"{settings.regions_file}: {region}.container_registry.trainer_image: missing")
        from robotics_assets.lib.secrets import secrets_provider

        token = secrets_provider().get(opts.pop("token_secret", "OSMO_TOKEN"))  # env locally, Key Vault on Azure
        client = OsmoClient(osmo["service_url"], token=token)
        resources = opts.pop("resources", {})
        opts["pipes_options"] = {**blob_pipes_defaults(outputs), **opts.get("pipes_options", {})}
        opts["env"] = {**kernel_cache_env(settings, region), **opts.get("env", {})}
        pools = outputs.get("gpu_node_pools") or {}
        gpus_per_node = max((int(p.get("gpus_per_node") or 0) for p in pools.values()), default=None)
        options = OsmoOptions(pool=osmo["pool"], image=image, gpus_per_node=gpus_per_node,
                              resources=Resources(gpu=settings.gpus(region), **resources), **opts)
        return cls(client, options)

    # -- what the loop asks of a backend -----------------------------------------------------------------------
    def pipes(self) -> tuple[dg.PipesContextInjector, dg.PipesMessageReader]:
        return pipes_transport(self.options.pipes, self.options.pipes_options)

    def submit(self, context: dg.AssetExecutionContext, request: LaunchRequest, identity: LaunchIdentity,
               pipes_env: Mapping[str, str], attempt: int, resume: bool) -> str:
        spec_yaml = self.render(request, identity, pipes_env, attempt, resume)
        workflow_id = self.client.submit(self.options.pool, spec_yaml, labels=identity.labels(attempt))["name"]
        self._specs[workflow_id] = spec_yaml
        return workflow_id

    def poll(self, context: dg.AssetExecutionContext, name: str, reader: dg.PipesMessageReader) -> AttemptState:
        wf = self._get(context, name)
        status = WorkflowStatus(wf["status"])
        if self._seen.get(name) is not status:
            context.log.info(f"[osmo] workflow {name}: {status.value}")
            self._seen[name] = status
        if status in ALIVE_STATES:
            return AttemptState("pending" if status is WorkflowStatus.PENDING else "running")
        codes = [t.get("exit_code") for t in _tasks(wf) if t.get("exit_code") is not None]
        record = {"workflow_id": name, "status": status.value, "exit_code": codes[0] if codes else None}
        if status is WorkflowStatus.COMPLETED:
            return AttemptState("succeeded", record={**record, "outcome": "succeeded"})
        outcome = "disruption" if is_disruption(wf) else "failed"
        text = f"OSMO workflow {name} ended {status.value}: {failure_text(wf)}"
        return AttemptState(outcome, text, {**record, "outcome": outcome})

    def cancel(self, context: dg.AssetExecutionContext, name: str, reason: str) -> None:
        try:
            self.client.cancel(name, message=reason)
        except OsmoError as e:
            if e.status_code == 400 and "already finished" in e.message:
                return
            raise

    def list_owned(self, identity: LaunchIdentity) -> list[Owned]:
        rows = self.client.list(labels=identity.owner_labels(), statuses=sorted(s.value for s in ALIVE_STATES),
                                pools=[self.options.pool])
        return [Owned(wf["name"], (wf.get("labels") or {}).get(LABEL_RUN), str(wf.get("submit_time") or ""))
                for wf in rows]

    # -- optional hooks ----------------------------------------------------------------------------------------
    def startup_timeout_s(self) -> float:
        o = self.options
        return o.startup_timeout_s if o.startup_timeout_s is not None else o.queue_timeout_s + 300

    def startup_failure(self, name: str) -> str:
        return (f"OSMO workflow {name} did not start within {self.startup_timeout_s():.0f}s (no GPU node came up in "
                f"pool {self.options.pool}); cancelled. Raise backend_options.startup_timeout_s if the pool scales "
                "up slowly.")

    @contextlib.contextmanager
    def watch(self, context: dg.AssetExecutionContext, name: str) -> Iterator[None]:
        follower = _LogFollower(self.client, name, context) if self.options.stream_logs else None
        try:
            yield
        finally:
            if follower:
                follower.stop()

    def wait_stopped(self, name: str, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not WorkflowStatus(self.client.get(name)["status"]).alive:
                return
            time.sleep(min(self.options.poll_interval_s, 1.0))
        raise dg.Failure(description=f"OSMO workflow {name} did not stop within {timeout_s:.0f}s of cancel")

    def attempt_record(self, name: str, state: AttemptState) -> dict[str, Any]:
        return dict(state.record) or {"workflow_id": name, "status": state.outcome}

    def success_metadata(self, name: str, attempts: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "osmo_workflow_id": name,
            "osmo_pool": self.options.pool,
            "osmo_attempts": dg.MetadataValue.json(attempts),
            "osmo_workflow_spec": dg.MetadataValue.md(f"```yaml\n{self._specs.get(name, '')}```"),
        }

    def failure_metadata(self, name: str | None, attempts: list[dict[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {"osmo_attempts": dg.MetadataValue.json(attempts)}
        if name:
            out["osmo_workflow_id"] = name
            out["osmo_status"] = attempts[-1].get("status", "") if attempts else ""
        return out

    def _get(self, context: dg.AssetExecutionContext, name: str) -> dict[str, Any]:
        """The workflow's status; a blip of the service (5xx, unreachable) must not cost a multi-hour run."""
        for tries in range(TRANSIENT_RETRIES + 1):
            try:
                return self.client.get(name)
            except OsmoError as e:
                if (e.status_code is not None and e.status_code < 500) or tries == TRANSIENT_RETRIES:
                    raise
                context.log.warning(f"[osmo] status of {name} unavailable ({e.message}); retrying")
                self._sleep(self.options.poll_interval_s)
        raise AssertionError("unreachable")

    def render(self, request: LaunchRequest, identity: LaunchIdentity, pipes_env: Mapping[str, str],
               attempt: int, resume: bool) -> str:
        """The workflow YAML of one attempt (public so it can be reviewed and tested without submitting)."""
        o = self.options
        if o.gpus_per_node is not None and request.gpus > o.gpus_per_node:
            raise ValueError(
                f"LaunchRequest.gpus: {request.gpus} exceeds the region's largest GPU node ({o.gpus_per_node} GPUs, "
                f"gpu_node_pools in the Terraform outputs): one OSMO task runs on one node; lower the task config's "
                f"gpus (train) or regions.{request.region}.gpus (several nodes: an OSMO group of tasks, "
                f"docs/backends.md)"
            )
        return render_workflow(WorkflowSpec(
            name=workflow_name(request.step, request.task, request.region),
            image=o.image,
            command=[o.python, "-m", o.module],
            args=[request.step, "--config", CONFIG_PATH, *resume_args(request, resume)],
            environment={**o.env, **request.env, **pipes_env,
                         **({"CUDA_VISIBLE_DEVICES": ""} if request.gpus == 0 else {})},
            files={CONFIG_PATH: request.config_yaml},
            resources=dataclasses.replace(o.resources, gpu=request.gpus),
            credentials=o.credentials,
            outputs=[f"{o.output_url.rstrip('/')}/{identity.run_key}"] if o.output_url else [],
            exec_timeout_s=o.exec_timeout_s,
            queue_timeout_s=o.queue_timeout_s,
            labels=identity.labels(attempt),
        ))


def _tasks(workflow: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for group in workflow.get("groups") or []:
        yield from group.get("tasks") or []


def is_disruption(workflow: Mapping[str, Any]) -> bool:
    """Lost to the infrastructure (worth a restart with --resume), not to the job or its configuration."""
    status = WorkflowStatus(workflow["status"])
    messages = " ".join(str(t.get("failure_message") or "") for t in _tasks(workflow))
    if any(reason in messages for reason in CONFIG_ERROR_REASONS):
        return False  # e.g. a secret key the pod cannot find: every restart would fail the same way
    if status.disruption:
        return True
    return status is WorkflowStatus.FAILED and any(t.get("exit_code") in DISRUPTION_EXIT_CODES
                                                   for t in _tasks(workflow))


def failure_text(workflow: Mapping[str, Any]) -> str:
    """OSMO's own words for why a workflow failed (group/task failure messages and exit codes)."""
    parts = []
    for group in workflow.get("groups") or []:
        for task in group.get("tasks") or []:
            msg = task.get("failure_message") or group.get("failure_message")
            if msg:
                code = task.get("exit_code")
                parts.append(f"{task.get('name')}: {msg}" + (f" (exit code {code})" if code is not None
                                                              and f"exit code {code}" not in msg else ""))
    # the platform's text can quote the task's own output: masked like every line that comes back into Dagster
    return redact("; ".join(parts) or workflow.get("status", "unknown failure"))


class _LogFollower:
    """Streams the workflow's logs into the Dagster run log on a background thread while it is alive."""

    def __init__(self, client: OsmoClient, workflow_id: str, context: dg.AssetExecutionContext):
        self._client, self._workflow_id, self._log = client, workflow_id, context.log
        self._response = None
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._follow, daemon=True, name=f"osmo-logs-{workflow_id}")
        self._thread.start()

    def _follow(self) -> None:
        try:
            self._response = self._client.open_log_stream(self._workflow_id)
            for raw in self._response.iter_lines():
                if self._stopped.is_set():
                    return
                line = redact(raw.decode("utf-8", errors="replace"))  # a credential a task printed stays out
                self._log.info(f"[osmo {self._workflow_id}] {line}")
        except Exception as e:  # noqa: BLE001 - logs are a convenience: never fail the launch over them
            if not self._stopped.is_set():
                self._log.debug(f"[osmo] log stream of {self._workflow_id} ended: {type(e).__name__}")

    def stop(self) -> None:
        self._thread.join(2)  # let the last lines of a finished workflow arrive (the stream ends with it)
        self._stopped.set()
        if self._response is not None and self._thread.is_alive():
            # closing blocks while the reader thread sits in a read: close from a daemon thread, never wait on it
            threading.Thread(target=self._response.close, daemon=True).start()
