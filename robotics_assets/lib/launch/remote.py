"""What the remote backends (k8s, osmo) share: the attempt loop, launch identity labels, Pipes transport, env checks.

`RemoteBackend.launch` is the one remote launch loop: take over a crashed earlier attempt of the same Dagster run or
refuse a twin of another run, then run attempts until one succeeds, the trainer fails, or the restart budget is
spent; a terminated run (or any error of ours) stops the remote object, and when even that fails the asset fails
naming the object to stop by hand. Each backend supplies only `submit` / `poll` / `cancel` / `list_owned`.

Restart model: an attempt lost to the infrastructure (spot eviction, node loss, preemption) is retried with
`--resume` in a NEW Pipes session, because a restarted process's Pipes message writer counts its chunks from 1 again
and would overwrite the earlier attempt's messages. An application failure is not retried by the backend (Dagster's
own retry policy may retry the whole step); disruptions are retried at most `restart_budget` times.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import dagster as dg

from robotics_assets.lib.osmo.spec import label_value

if TYPE_CHECKING:
    from robotics_assets.lib.launch.base import LaunchMonitor, LaunchRequest

# Environment names that must travel as secret references (OSMO credentials / k8s secretKeyRef), never as values.
_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CONNECTION_STRING|SAS|CREDENTIAL)", re.IGNORECASE)

LABEL_RUN = "dagster-run-id"
LABEL_ASSET = "dagster-asset"
LABEL_PARTITION = "dagster-partition"
LABEL_STEP = "robotics-step"
LABEL_RUN_KEY = "robotics-run-key"
LABEL_ATTEMPT = "robotics-attempt"


@dataclass(frozen=True)
class LaunchIdentity:
    """Who a remote object belongs to, as label values: used to re-attach to, or refuse, an existing launch."""

    run_id: str  # the ROOT Dagster run id: a retried run (new run id) still owns its predecessor's objects
    asset: str
    partition: str
    step: str
    run_key: str

    def owner_labels(self) -> dict[str, str]:
        """The labels that say "this partition of this asset is being computed" (same for every Dagster run)."""
        return {LABEL_ASSET: self.asset, LABEL_PARTITION: self.partition, LABEL_STEP: self.step}

    def labels(self, attempt: int) -> dict[str, str]:
        return {LABEL_RUN: self.run_id, **self.owner_labels(), LABEL_RUN_KEY: self.run_key,
                LABEL_ATTEMPT: str(attempt)}


def launch_identity(context: dg.AssetExecutionContext, request: LaunchRequest) -> LaunchIdentity:
    run = context.run
    root = getattr(run, "root_run_id", None) or run.run_id
    try:
        asset = context.asset_key.to_user_string()
    except dg.DagsterInvariantViolationError:  # an op or multi-asset: fall back to the op name
        asset = context.op.name
    partition = context.partition_key if context.has_partition_key else "unpartitioned"
    return LaunchIdentity(
        run_id=label_value(root), asset=label_value(asset), partition=label_value(partition),
        step=request.step, run_key=label_value(request.run_key),
    )


def check_plain_env(env: Mapping[str, str], where: str) -> None:
    """Refuse secret-looking variables in plain env: they would land in specs, manifests and run metadata.

    A secret-looking name, or a value that carries credentials (a URL with a password, a SAS signature, an account
    key) under an innocent name; the error names the variable, never the value.
    """
    from robotics_assets.lib.secrets import has_credentials

    for name, value in env.items():
        if name.startswith("DAGSTER_PIPES_"):
            continue
        if _SECRET_NAME.search(name) or has_credentials(str(value)):
            raise ValueError(
                f"{where}: environment variable {name!r} looks like a secret (its name or its value); pass it by "
                "reference instead (backend_options.credentials for OSMO, backend_options.secret_env for k8s)"
            )


def check_option_keys(options_cls: type, options: Mapping[str, Any], where: str, *, extra: tuple[str, ...] = (),
                      derived: tuple[str, ...] = ()) -> None:
    """Unknown `backend_options` keys are typos: name them and the allowed keys instead of a TypeError.

    `derived` fields come from the Terraform outputs and cannot be set here.
    """
    allowed = ({f.name for f in dataclasses.fields(options_cls)} - set(derived)) | set(extra)
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})")


def resume_args(request: LaunchRequest, resume: bool) -> list[str]:
    """Trainer args for one attempt: `--resume` only for `train`, and only when resuming."""
    args = list(request.args)
    if resume and request.step == "train" and "--resume" not in args:
        if "--warm-start" in args:  # a resumed run continues its own checkpoints, not the warm-start source
            i = args.index("--warm-start")
            del args[i:i + 2]
        args.append("--resume")
    return args


def pipes_transport(kind: str, options: Mapping[str, Any] | None = None) -> tuple[dg.PipesContextInjector,
                                                                                  dg.PipesMessageReader]:
    """A fresh (injector, reader) pair per attempt.

    `blob`: Pipes over Azure Blob (Azurite or Azure), the transport for real remote pods; options are
    `robotics_assets.lib.azure.pipes.blob_pipes` arguments (account_url, container, ...).
    A remote pod or task shares no filesystem with Dagster, so there is no file-based transport here.
    """
    options = dict(options or {})
    if kind == "blob":
        from robotics_assets.lib.azure.pipes import blob_pipes

        if not options.get("account_url"):
            raise ValueError("backend_options.pipes_options.account_url: missing (the region's storage.blob_endpoint)")
        return blob_pipes(**options)
    raise ValueError(f"backend_options.pipes: {kind!r} is not a Pipes transport (allowed: blob)")


def blob_pipes_defaults(outputs: Mapping[str, Any]) -> dict[str, Any]:
    """Pipes-over-Blob options from the region's Terraform outputs (its storage account's `pipes` container)."""
    storage = outputs.get("storage") or {}
    endpoint = storage.get("blob_endpoint")
    out: dict[str, Any] = {"account_url": endpoint.rstrip("/")} if endpoint else {}
    container = (storage.get("containers") or {}).get("pipes")
    if container:
        out["container"] = container
    return out


Outcome = Literal["pending", "running", "succeeded", "failed", "disruption", "stopped"]
TERMINAL: frozenset[str] = frozenset({"succeeded", "failed", "disruption", "stopped"})


@dataclass(frozen=True)
class AttemptState:
    """One poll of a remote object. `detail`: the platform's own words (already redacted); `record`: attempt metadata."""

    outcome: Outcome
    detail: str = ""
    record: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Owned:
    """A live remote object labelled for this asset partition and step."""

    name: str
    run_id: str | None  # the `dagster-run-id` label (root run id)
    created: str  # submit/creation timestamp as the platform stamps it (ISO strings sort in time order)


class RemoteBackend:
    """The attempt loop shared by the k8s and OSMO backends; subclasses supply the platform calls.

    Subclasses set `name` (the backend) and `noun` ("pod", "OSMO workflow"), keep `options` with `restart_budget`
    and `poll_interval_s`, and implement `pipes`, `submit`, `poll`, `cancel`, `list_owned`; `startup_timeout_s`,
    `watch`, `end_attempt`, `wait_stopped` and the metadata hooks are optional.
    """

    name: str = "remote"
    noun: str = "object"
    options: Any
    _sleep = staticmethod(time.sleep)  # the poll pause; where Dagster delivers a run termination (tests hook it)

    # -- what a backend supplies -----------------------------------------------------------------------------
    def pipes(self) -> tuple[dg.PipesContextInjector, dg.PipesMessageReader]:
        raise NotImplementedError

    def submit(self, context: dg.AssetExecutionContext, request: LaunchRequest, identity: LaunchIdentity,
               pipes_env: Mapping[str, str], attempt: int, resume: bool) -> str:
        """Create the remote object of one attempt; returns its name."""
        raise NotImplementedError

    def poll(self, context: dg.AssetExecutionContext, name: str, reader: dg.PipesMessageReader) -> AttemptState:
        raise NotImplementedError

    def cancel(self, context: dg.AssetExecutionContext, name: str, reason: str) -> None:
        """Stop the object (gone already: fine); raise when it cannot be stopped."""
        raise NotImplementedError

    def list_owned(self, identity: LaunchIdentity) -> list[Owned]:
        """Live objects carrying `identity.owner_labels()` (any Dagster run)."""
        raise NotImplementedError

    # -- optional hooks ----------------------------------------------------------------------------------------
    def startup_timeout_s(self) -> float:
        return float(self.options.startup_timeout_s)

    def watch(self, context: dg.AssetExecutionContext, name: str) -> contextlib.AbstractContextManager[Any]:
        """Follows the object's logs while the attempt runs (OSMO); none by default."""
        return contextlib.nullcontext()

    def end_attempt(self, context: dg.AssetExecutionContext, name: str, reader: dg.PipesMessageReader) -> None:
        """Called once the attempt is over, whatever happened (close log streams, delete finished pods)."""

    def wait_stopped(self, name: str) -> None:
        """After a take-over cancel: wait until the old object no longer runs (it may still write checkpoints)."""

    def attempt_record(self, name: str, state: AttemptState) -> dict[str, Any]:
        return {self.noun: name, "outcome": state.outcome, **state.record}

    def success_metadata(self, name: str, attempts: list[dict[str, Any]]) -> dict[str, Any]:
        return {f"{self.name}_attempts": dg.MetadataValue.json(attempts)}

    def failure_metadata(self, name: str | None, attempts: list[dict[str, Any]]) -> dict[str, Any]:
        return {f"{self.name}_attempts": dg.MetadataValue.json(attempts)}

    def startup_failure(self, name: str) -> str:
        return (f"{self.noun} {name} did not start within {self.startup_timeout_s():.0f}s; stopped. "
                "Raise backend_options.startup_timeout_s if the pool scales up slowly.")

    # -- the loop ----------------------------------------------------------------------------------------------
    def launch(self, context: dg.AssetExecutionContext, request: LaunchRequest, *,
               extras: Mapping[str, Any] | None = None,
               monitor: LaunchMonitor | None = None) -> dg.PipesClientCompletedInvocation:
        check_plain_env(request.env, "LaunchRequest.env")
        identity = launch_identity(context, request)
        resume = self._take_over_or_refuse(context, identity)
        attempts: list[dict[str, Any]] = []
        budget = int(self.options.restart_budget)
        for attempt in range(1, budget + 2):
            injector, reader = self.pipes()
            with dg.open_pipes_session(context=context, context_injector=injector, message_reader=reader,
                                       extras={"task": request.task, "region": request.region,
                                               "run_key": request.run_key, **(extras or {})}) as session:
                resumed = resume or attempt > 1
                name = self.submit(context, request, identity, session.get_bootstrap_env_vars(), attempt, resumed)
                context.log.info(f"[{self.name}] attempt {attempt}: started {self.noun} {name}"
                                 + (" (resuming)" if resumed else ""))
                state = self._follow(context, identity, name, reader, session, monitor)
                attempts.append(self.attempt_record(name, state))
                if state.outcome == "failed":
                    raise dg.Failure(description=state.detail or f"{self.noun} {name} failed",
                                     metadata=self.failure_metadata(name, attempts))
            if monitor is not None:  # the whole curve, with the points read after the last check
                monitor.observe(session.get_custom_messages())
            if state.outcome in ("succeeded", "stopped"):  # stopped: the monitor's decision, not a failure
                return dg.PipesClientCompletedInvocation(session, metadata=self.success_metadata(name, attempts))
            context.log.warning(f"[{self.name}] {self.noun} {name} was lost to a disruption ({state.detail}); "
                                f"restarts left: {budget - attempt + 1}")
        raise dg.Failure(
            description=f"{self.name} restart budget exhausted: {len(attempts)} attempts, all lost to disruptions "
                        f"({'; '.join(str(a.get('status') or a['outcome']) for a in attempts)})",
            metadata=self.failure_metadata(None, attempts),
        )

    def _follow(self, context: dg.AssetExecutionContext, identity: LaunchIdentity, name: str,
                reader: dg.PipesMessageReader, session: dg.PipesSession | None = None,
                monitor: LaunchMonitor | None = None) -> AttemptState:
        started = time.monotonic()
        try:
            with self.watch(context, name):  # stopped only after the object is: a log stream ends with it
                try:
                    self._refuse_if_twin(identity, name)
                    while True:
                        state = self.poll(context, name, reader)
                        if state.outcome in TERMINAL:
                            return state
                        if state.outcome == "pending" and time.monotonic() - started > self.startup_timeout_s():
                            raise dg.Failure(description=self.startup_failure(name))
                        if monitor is not None and session is not None and monitor.check(
                                session.get_custom_messages()):
                            context.log.info(f"[{self.name}] stopping {self.noun} {name}: {monitor.stopped}")
                            self._stop(context, name, f"early stopped: {monitor.stopped}", None)
                            return AttemptState("stopped", detail=str(monitor.stopped))
                        self._sleep(min(self.options.poll_interval_s, monitor.interval_s) if monitor is not None
                                    else self.options.poll_interval_s)
                except (dg.DagsterExecutionInterruptedError, KeyboardInterrupt):
                    context.log.info(f"[{self.name}] run terminated: stopping {self.noun} {name}")
                    self._stop(context, name, "Dagster run terminated", None)
                    raise
                except BaseException as e:
                    self._stop(context, name, "the Dagster launcher failed", e)
                    raise
        finally:
            self.end_attempt(context, name, reader)

    def _stop(self, context: dg.AssetExecutionContext, name: str, reason: str, cause: BaseException | None) -> None:
        """Stop the attempt's object; if that fails, nobody watches it any more: say so, naming it."""
        from robotics_assets.lib.secrets import redact

        try:
            self.cancel(context, name, reason)
        except Exception as e:  # noqa: BLE001 - reported below, with the object's name
            why = redact(f"{type(e).__name__}: {e}")
            context.log.error(f"[{self.name}] could not stop {self.noun} {name} ({why}): stop it by hand")
            if cause is not None and not isinstance(cause, KeyboardInterrupt):
                said = cause.description if isinstance(cause, dg.Failure) else str(cause)
                raise dg.Failure(
                    description=f"{redact(said or type(cause).__name__)}; {self.noun} {name} may still be running "
                                f"and could not be stopped ({why}): stop it by hand",
                    metadata={f"{self.name}_unstopped": name},
                ) from cause

    def _take_over_or_refuse(self, context: dg.AssetExecutionContext, identity: LaunchIdentity) -> bool:
        """Before the first attempt: stop our own orphan (and resume its checkpoints) or refuse another run's twin."""
        resume = False
        for owned in self.list_owned(identity):
            if owned.run_id != identity.run_id:
                raise dg.Failure(
                    description=f"{identity.asset} partition {identity.partition} is already running "
                                f"{identity.step} in {self.noun} {owned.name} (Dagster run {owned.run_id}); not "
                                "starting a second one. Wait for it or stop it.",
                    metadata={f"{self.name}_running": owned.name},
                )
            context.log.warning(f"[{self.name}] stopping {self.noun} {owned.name} left by an earlier try of this "
                                "run; resuming from its checkpoints")
            self.cancel(context, owned.name, "superseded by a retried Dagster run")
            self.wait_stopped(owned.name)
            resume = True
        return resume

    def _refuse_if_twin(self, identity: LaunchIdentity, name: str) -> None:
        """After creating: of two runs that raced for one partition, the later-created object withdraws."""
        live = self.list_owned(identity)
        ours = next((o for o in live if o.name == name), None)
        if ours is None:
            return
        for rival in live:
            if rival.run_id != identity.run_id and (rival.created, rival.name) < (ours.created, ours.name):
                raise dg.Failure(description=f"{identity.asset} partition {identity.partition} was launched "
                                             f"concurrently by Dagster run {rival.run_id} ({self.noun} "
                                             f"{rival.name}); this launch withdrew {self.noun} {name} so the "
                                             "partition trains once.")

