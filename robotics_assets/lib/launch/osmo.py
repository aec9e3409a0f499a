"""`osmo` backend: the trainer step as an NVIDIA OSMO workflow, with restart-and-resume on disruption.

One launch = one or more OSMO workflows (attempts). Each attempt renders the workflow spec (kept as run metadata),
submits it labelled with the Dagster run, asset, partition and step, streams its logs into Dagster and polls it:
- COMPLETED: the Pipes results come back;
- FAILED_BACKEND_ERROR / FAILED_EVICTED / FAILED_PREEMPTED: a new attempt with `--resume` (restart budget);
- any other FAILED*: the asset fails with OSMO's own failure text;
- stuck in the queue past `startup_timeout_s` (cold GPU scale-up that never comes): cancelled, asset fails;
- the Dagster run is terminated, or anything of ours fails: the workflow is cancelled (no orphans).
A retried Dagster run finds its predecessor's live workflow by label and takes it over (cancels it, resumes from
its checkpoints); a live workflow of ANOTHER Dagster run for the same asset partition makes the launch refuse, so the
same partition never trains twice at the same time.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import dagster as dg
from dagster._core.errors import DagsterExecutionInterruptedError

from robotics_assets.lib.launch.base import LaunchRequest, kernel_cache_env
from robotics_assets.lib.launch.remote import (
    LABEL_RUN,
    LaunchIdentity,
    blob_pipes_defaults,
    check_option_keys,
    check_plain_env,
    launch_identity,
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
from robotics_assets.lib.osmo.status import ALIVE_STATES, WorkflowStatus
from robotics_assets.lib.secrets import redact

if TYPE_CHECKING:
    from robotics_assets.lib.settings import Settings

CONFIG_PATH = "/tmp/robotics/task.yaml"  # where the inline `files:` entry puts the task config in the container


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


class OsmoBackend:
    name = "osmo"
    _sleep = staticmethod(time.sleep)  # the poll pause; where Dagster delivers a run termination (tests hook it)

    def __init__(self, client: OsmoClient, options: OsmoOptions):
        self.client = client
        self.options = options
        check_plain_env(options.env, "backend_options.env")

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

    # -- launch ----------------------------------------------------------------------------------------------
    def launch(self, context: dg.AssetExecutionContext, request: LaunchRequest, *,
               extras: Mapping[str, Any] | None = None) -> dg.PipesClientCompletedInvocation:
        check_plain_env(request.env, "LaunchRequest.env")
        identity = launch_identity(context, request)
        resume = self._take_over_or_refuse(context, identity)
        attempts: list[dict[str, str]] = []
        for attempt in range(1, self.options.restart_budget + 2):
            injector, reader = pipes_transport(self.options.pipes, self.options.pipes_options)
            with dg.open_pipes_session(context=context, context_injector=injector, message_reader=reader,
                                       extras={"task": request.task, "region": request.region,
                                               "run_key": request.run_key, **(extras or {})}) as session:
                spec_yaml = self.render(request, identity, session.get_bootstrap_env_vars(), attempt,
                                        resume or attempt > 1)
                workflow_id = self.client.submit(self.options.pool, spec_yaml,
                                                 labels=identity.labels(attempt))["name"]
                context.log.info(f"[osmo] attempt {attempt}: submitted workflow {workflow_id} to pool "
                                 f"{self.options.pool}" + (" (resuming)" if resume or attempt > 1 else ""))
                final = self._run_attempt(context, identity, workflow_id)
                status = WorkflowStatus(final["status"])
                attempts.append({"workflow_id": workflow_id, "status": status.value})
                if status is WorkflowStatus.COMPLETED:
                    return dg.PipesClientCompletedInvocation(session, metadata={
                        "osmo_workflow_id": workflow_id,
                        "osmo_pool": self.options.pool,
                        "osmo_attempts": dg.MetadataValue.json(attempts),
                        "osmo_workflow_spec": dg.MetadataValue.md(f"```yaml\n{spec_yaml}```"),
                    })
                reason = failure_text(final)
                if not status.disruption:
                    raise dg.Failure(
                        description=f"OSMO workflow {workflow_id} ended {status.value}: {reason}",
                        metadata={"osmo_workflow_id": workflow_id, "osmo_status": status.value,
                                  "osmo_attempts": dg.MetadataValue.json(attempts)},
                    )
                context.log.warning(f"[osmo] workflow {workflow_id} lost to {status.value} ({reason}); "
                                    f"restarts left: {self.options.restart_budget - attempt + 1}")
        raise dg.Failure(
            description=f"OSMO restart budget exhausted: {len(attempts)} attempts, all lost to disruptions "
                        f"({', '.join(a['status'] for a in attempts)})",
            metadata={"osmo_attempts": dg.MetadataValue.json(attempts)},
        )

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

    # -- one attempt -----------------------------------------------------------------------------------------
    def _run_attempt(self, context: dg.AssetExecutionContext, identity: LaunchIdentity,
                     workflow_id: str) -> dict[str, Any]:
        follower = _LogFollower(self.client, workflow_id, context) if self.options.stream_logs else None
        try:
            self._refuse_if_twin(identity, workflow_id)
            return self._wait(context, workflow_id)
        except (DagsterExecutionInterruptedError, KeyboardInterrupt):
            context.log.info(f"[osmo] run terminated: cancelling workflow {workflow_id}")
            self._cancel_quietly(context, workflow_id, "Dagster run terminated")
            raise
        except BaseException:
            self._cancel_quietly(context, workflow_id, "the Dagster launcher failed")
            raise
        finally:
            if follower:
                follower.stop()

    def _wait(self, context: dg.AssetExecutionContext, workflow_id: str) -> dict[str, Any]:
        o = self.options
        startup_timeout = o.startup_timeout_s if o.startup_timeout_s is not None else o.queue_timeout_s + 300
        submitted = time.monotonic()
        transient_errors = 0
        last_status = None
        while True:
            try:
                wf = self.client.get(workflow_id)
                transient_errors = 0
            except OsmoError as e:
                if e.status_code is not None and e.status_code < 500 or transient_errors >= 5:
                    raise
                transient_errors += 1  # a blip of the service must not cost a multi-hour run
                context.log.warning(f"[osmo] status of {workflow_id} unavailable ({e.message}); retrying")
                self._sleep(o.poll_interval_s)
                continue
            status = WorkflowStatus(wf["status"])
            if status is not last_status:
                context.log.info(f"[osmo] workflow {workflow_id}: {status.value}")
                last_status = status
            if status not in ALIVE_STATES:
                return wf
            if status is WorkflowStatus.PENDING and time.monotonic() - submitted > startup_timeout:
                raise dg.Failure(
                    description=f"OSMO workflow {workflow_id} did not start within {startup_timeout:.0f}s (no GPU "
                                f"node came up in pool {o.pool}); cancelled. Raise backend_options.startup_timeout_s "
                                "if the pool scales up slowly.",
                    metadata={"osmo_workflow_id": workflow_id},
                )
            self._sleep(o.poll_interval_s)

    # -- ownership -------------------------------------------------------------------------------------------
    def _alive_owned(self, identity: LaunchIdentity) -> list[dict[str, Any]]:
        return self.client.list(labels=identity.owner_labels(), statuses=sorted(s.value for s in ALIVE_STATES),
                                pools=[self.options.pool])

    def _take_over_or_refuse(self, context: dg.AssetExecutionContext, identity: LaunchIdentity) -> bool:
        """Before the first attempt: adopt our own orphan (cancel it, resume its checkpoints) or refuse a twin."""
        resume = False
        for wf in self._alive_owned(identity):
            owner = wf.get("labels", {}).get(LABEL_RUN)
            if owner != identity.run_id:
                raise dg.Failure(
                    description=f"{identity.asset} partition {identity.partition} is already running "
                                f"{identity.step} in OSMO workflow {wf['name']} (Dagster run {owner}); not starting "
                                "a second one. Wait for it or cancel it.",
                    metadata={"osmo_workflow_id": wf["name"]},
                )
            context.log.warning(f"[osmo] found workflow {wf['name']} left by an earlier try of this run: "
                                "cancelling it and resuming from its checkpoints")
            self._cancel_quietly(context, wf["name"], "superseded by a retried Dagster run")
            self._wait_dead(wf["name"])
            resume = True
        return resume

    def _refuse_if_twin(self, identity: LaunchIdentity, workflow_id: str) -> None:
        """After submitting: if another run's workflow for this partition slipped in first, we are the one to go."""
        ours = None
        rivals = []
        for wf in self._alive_owned(identity):
            if wf["name"] == workflow_id:
                ours = wf
            elif wf.get("labels", {}).get(LABEL_RUN) != identity.run_id:
                rivals.append(wf)
        if ours is None:
            return
        for rival in rivals:
            if (rival["submit_time"], rival["name"]) < (ours["submit_time"], ours["name"]):
                raise dg.Failure(
                    description=f"{identity.asset} partition {identity.partition} was submitted concurrently by "
                                f"Dagster run {rival['labels'].get(LABEL_RUN)} (workflow {rival['name']}); this "
                                f"launch withdrew workflow {workflow_id} so the partition trains once.",
                )

    def _wait_dead(self, workflow_id: str, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not WorkflowStatus(self.client.get(workflow_id)["status"]).alive:
                return
            time.sleep(min(self.options.poll_interval_s, 1.0))
        raise dg.Failure(description=f"OSMO workflow {workflow_id} did not stop within {timeout_s:.0f}s of cancel")

    def _cancel_quietly(self, context: dg.AssetExecutionContext, workflow_id: str, message: str) -> None:
        try:
            self.client.cancel(workflow_id, message=message)
        except OsmoError as e:
            if "already finished" not in e.message:
                context.log.error(f"[osmo] could not cancel workflow {workflow_id}: {e.message}")


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
        self._thread.join(2)  # let the last lines of a finished workflow arrive
        self._stopped.set()
        if self._response is not None:
            self._response.close()
