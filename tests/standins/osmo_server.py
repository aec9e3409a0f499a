"""STAND-IN for the NVIDIA OSMO workflow service (OSMO cannot run here). Not OSMO; for tests only.

Follows NVIDIA/OSMO main as of 2026-12 (6.4 line; commit 1da31e1), read with the search/fetch tools:
- REST API of `src/service/core/workflow/workflow_service.py`: the same paths, query parameters, JSON bodies and
  response fields (SubmitResponse, WorkflowQueryResponse, ListResponse, CancelResponse).
- Errors as `src/service/core/service.py::user_error_handler` sends them: HTTP 400 with `{message, error_code,
  workflow_id}`; an unknown workflow is `DATABASE` ("Workflow X is not found.", `src/utils/job/workflow.py`), an
  unknown pool `USER` ("Pool X not found.", `src/utils/connectors/postgres.py`), a bad spec `USAGE`.
- Auth as the gateway enforces it (`src/service/core/auth/auth_service.py::get_jwt_token_from_access_token`, the
  CLI side in `src/lib/utils/login.py`): only `POST|GET /api/auth/jwt/access_token` takes the access token and
  answers `{token, expires_at, error}` with a signed JWT that expires after `jwt_lifetime_s` (OSMO: ~5 min; tests
  shorten it); every other `/api/` path needs `Authorization: Bearer <that JWT>`, unexpired. The raw access token,
  an expired or forged JWT get 401 (Envoy's plain-text "Jwt is expired" / "Jwt verification fails").
- The submitted file is rendered with Jinja before it is parsed (`src/utils/job/workflow.py`, a sandboxed
  environment with StrictUndefined; OSMO tokens `{{workflow_id}}`, `{{output}}`, `{{host:...}}` survive it).
- Exit actions (`src/utils/job/jobs.py::_apply_exit_action`): the task's `exitActions` first, then the pool's
  `default_exit_actions`; RESCHEDULE reruns the same task in place (`retry_id` + 1, up to the pool's
  `max_retry_per_task`), FAIL / COMPLETE override the status. Infrastructure losses carry OSMO's exit codes (3001
  backend error, 3004 evicted, 3006 preempted: docs/user_guide/workflows/exit_codes.rst).
- A credential key the container cannot find is a CreateContainerConfigError: the task stays SCHEDULING, then
  (after `config_error_s`, 10 min in OSMO) ends FAILED_BACKEND_ERROR with the backend listener's message
  (`src/operator/backend_listener.py::calculate_pod_status`).
- Logs and events stream until the workflow's end marker (`src/utils/connectors/redis.py`, END_FLAG), with OSMO's
  prefixes: `<date> <time> [<task>] <line>`, `[<task> retry-<n>]` for a rescheduled task, `[<task>][osmo]` for
  OSMO's own control lines.

What it really does: each submitted task runs as a LOCAL PROCESS (its own process group) in a private scratch
"container" (`tests/standins/sandbox.py`): own cwd/HOME/TMPDIR, inline `files` written into it, every absolute path
of the spec re-rooted into it, the image's environment plus the spec's `environment` and resolved `credentials`;
the folder is removed when the task ends, is cancelled or is preempted. Outputs (`url:`) are recorded, never copied
onto this machine. What it fakes: scheduling (an optional queue delay), and disruptions injected on purpose
(`inject_disruption`, or `POST /standin/disruptions`); the task ends with the injected state and its exit code.
How the process is stopped follows what the backend does to the pod: FAILED_PREEMPTED is the scheduler's preemption
(OSMO reads the pod's `PreemptionByScheduler` condition, `src/operator/backend_listener.py::
check_preemption_by_scheduler`), and Kubernetes deletes a preemption victim gracefully; a cancel deletes the pods
gracefully too unless forced (`src/utils/job/jobs.py`: `force_delete=self.force_cancel`; `backend_jobs.py` sends
`grace_period_seconds=0` only then); FAILED_EVICTED is the kubelet's eviction (`pod.status.reason == 'Evicted'`,
same file), which, like the k8s stand-in's, signals first. Graceful = SIGTERM, up to the pod's grace period
(Kubernetes' default 30 s, capped by `grace_s` for tests), then SIGKILL. Any other injected loss (FAILED_BACKEND_ERROR:
a lost node) is a SIGKILL. Queue and exec timeouts from the spec are enforced.

Run alone: `python tests/standins/osmo_server.py --port 8765 [--token T]`.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import itertools
import json
import os
import re
import secrets as pysecrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Self

import fastapi
import jinja2
import jinja2.sandbox
import uvicorn
import yaml
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse

from tests.standins.sandbox import Sandbox, SpecRefused, image_prefixes

ALIVE = {"PENDING", "RUNNING", "WAITING"}
Repeated = Annotated[list[str], fastapi.Query()]  # a repeatable query parameter (?label=a&label=b)
_TIMEOUT_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# OSMO's exit codes for infrastructure losses (task.ExitCode)
EXIT_CODES = {"FAILED_BACKEND_ERROR": 3001, "FAILED_START_ERROR": 3003, "FAILED_EVICTED": 3004,
              "FAILED_PREEMPTED": 3006}
# losses whose pod Kubernetes deletes gracefully (scheduler preemption, kubelet eviction); others are a lost node
GRACEFUL_LOSSES = frozenset({"FAILED_PREEMPTED", "FAILED_EVICTED"})
_OSMO_TOKEN = re.compile(r"{{(uuid|workflow_id|output|input:[^}]+|host:[^}]+)}}")
AUTH_PATHS = ("/api/auth/jwt/access_token", "/api/auth/login", "/api/version")


class OsmoHTTPError(Exception):
    def __init__(self, message: str, status_code: int = 400, error_code: str = "USER", workflow_id: str | None = None):
        super().__init__(message)
        self.message, self.status_code, self.error_code, self.workflow_id = message, status_code, error_code, workflow_id


@dataclass
class Disruption:
    """Kill the next matching workflow after `after_s` seconds of RUNNING and report `status`."""

    status: str
    after_s: float
    labels: dict[str, str] = field(default_factory=dict)
    hold_in_queue: bool = False  # instead: never leave the queue (a cold GPU pool that does not scale up)
    when: Callable[[], bool] | None = None  # strike when this turns true (e.g. a checkpoint exists), not by time


@dataclass
class _Workflow:
    name: str
    uuid: str
    pool: str
    user: str
    spec_text: str
    spec: dict[str, Any]
    labels: dict[str, str]
    parent_name: str | None
    submit_time: dt.datetime
    sandbox: Path
    status: str = "PENDING"
    task_status: str = "SUBMITTING"
    start_time: dt.datetime | None = None
    end_time: dt.datetime | None = None
    failure_message: str | None = None
    exit_code: int | None = None
    cancelled_by: str | None = None
    force_cancel: bool = False
    logs: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    retry_id: int = 0
    process: subprocess.Popen | None = None
    box: Sandbox | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    disruption: Disruption | None = None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _parse_timeout(value: str | None, default: float) -> float:
    if not value:
        return default
    value = str(value).strip()
    return float(value[:-1]) * _TIMEOUT_UNITS[value[-1]] if value[-1] in _TIMEOUT_UNITS else float(value)


class OsmoStandIn:
    """The stand-in's state and workflow executor; `app` is its FastAPI application."""

    def __init__(self, *, token: str | None = None, pools: tuple[str, ...] | Mapping[str, Mapping[str, Any]] = ("default",),
                 credentials: Mapping[str, Mapping[str, str]] | None = None, queue_delay_s: float = 0.2,
                 base_env: Mapping[str, str] | None = None, workdir: str | None = None, jwt_lifetime_s: float = 300,
                 config_error_s: float = 600, grace_s: float = 5.0):
        self.token = token  # the access token; None: the service runs without auth (dev mode)
        # pool name -> {default_exit_actions: {ACTION: "codes"}, max_retry_per_task: n} (src/utils/connectors/postgres.py)
        self.pools = {p: {} for p in pools} if not isinstance(pools, Mapping) else {k: dict(v) for k, v in pools.items()}
        self.credentials = {k: dict(v) for k, v in (credentials or {}).items()}
        self.queue_delay_s = queue_delay_s
        self.jwt_lifetime_s = jwt_lifetime_s
        self.config_error_s = config_error_s
        self.grace_s = grace_s  # caps the pods' termination grace period (Kubernetes' default: 30 s)
        self.base_env = dict(base_env if base_env is not None else os.environ)
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="osmo-standin-"))
        self.workflows: dict[str, _Workflow] = {}
        self.disruptions: list[Disruption] = []
        self.submissions: list[str] = []
        self.jwts_issued = 0
        self.auth_failures: list[str] = []  # paths answered 401, for tests
        self._signing_key = pysecrets.token_bytes(32)
        self._lock = threading.RLock()
        self._counter = itertools.count(1)
        self.app = self._build_app()

    # -- auth --------------------------------------------------------------------------------------------------
    def issue_jwt(self, access_token: str) -> dict[str, Any]:
        if not self.token or not hmac.compare_digest(access_token, self.token):
            raise OsmoHTTPError("Access Token is invalid", 400, "USER")
        expires_at = int(time.time() + self.jwt_lifetime_s) if self.jwt_lifetime_s >= 1 else time.time() + \
            self.jwt_lifetime_s
        claims = {"sub": "standin-user", "name": "standin-user", "exp": expires_at, "iat": int(time.time())}
        self.jwts_issued += 1
        return {"token": self._sign(claims), "expires_at": expires_at, "error": None}

    def _sign(self, claims: Mapping[str, Any]) -> str:
        def b64(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

        head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        body = b64(json.dumps(claims).encode())
        sig = b64(hmac.new(self._signing_key, f"{head}.{body}".encode(), hashlib.sha256).digest())
        return f"{head}.{body}.{sig}"

    def check_jwt(self, authorization: str | None) -> str | None:
        """None when the bearer JWT is valid; else Envoy's reason."""
        if not authorization or not authorization.startswith("Bearer "):
            return "Jwt is missing"
        token = authorization[len("Bearer "):]
        parts = token.split(".")
        if len(parts) != 3:
            return "Jwt is not in the form of Header.Payload.Signature"
        expected = self._sign(json.loads(base64.urlsafe_b64decode(parts[1] + "==")))
        if not hmac.compare_digest(expected, token):
            return "Jwt verification fails"
        if json.loads(base64.urlsafe_b64decode(parts[1] + "=="))["exp"] <= time.time():
            return "Jwt is expired"
        return None

    # -- test controls ---------------------------------------------------------------------------------------
    def inject_disruption(self, status: str, after_s: float = 1.0, labels: Mapping[str, str] | None = None,
                          hold_in_queue: bool = False, when: Callable[[], bool] | None = None) -> None:
        with self._lock:
            self.disruptions.append(Disruption(status, after_s, dict(labels or {}), hold_in_queue, when))

    def alive(self) -> list[_Workflow]:
        with self._lock:
            return [w for w in self.workflows.values() if w.status in ALIVE]

    def shutdown(self) -> None:
        for wf in list(self.workflows.values()):
            wf.cancel.set()
            self._kill(wf)
        for wf in list(self.workflows.values()):
            wf.done.wait(10)

    # -- workflow lifecycle ----------------------------------------------------------------------------------
    def submit(self, pool: str, spec_text: str, label_overrides: list[str], user: str,
               parent: str | None = None) -> _Workflow:
        if pool not in self.pools:
            raise OsmoHTTPError(f"Pool {pool} not found.", 400, "USER")
        rendered = render_jinja(spec_text)
        try:
            spec = yaml.safe_load(rendered)
        except yaml.YAMLError as e:
            raise OsmoHTTPError(f"Workflow spec is not valid YAML: {e}", 400, "USAGE") from None
        wf_spec = (spec or {}).get("workflow") if isinstance(spec, dict) else None
        if not isinstance(wf_spec, dict) or not wf_spec.get("name"):
            raise OsmoHTTPError("Workflow spec needs `workflow.name`.", 400, "USAGE")
        tasks = wf_spec.get("tasks") or []
        if len(tasks) != 1:
            raise OsmoHTTPError("The stand-in runs workflows with exactly one task.", 400, "USAGE")
        task = tasks[0]
        for key in ("name", "image", "command"):
            if not task.get(key):
                raise OsmoHTTPError(f"Task field `{key}` is required.", 400, "USAGE")
        if any("dataset" in io for io in (task.get("inputs") or []) + (task.get("outputs") or [])):
            raise OsmoHTTPError("`dataset` inputs/outputs were removed; use `url`.", 400, "USAGE")
        for cred in (task.get("credentials") or {}):
            if cred not in self.credentials:
                raise OsmoHTTPError(f"Credential {cred} is not set for user {user}.", 400, "CREDENTIAL")
        labels = {str(k): str(v) for k, v in (wf_spec.get("labels") or {}).items()}
        for item in label_overrides:
            key, sep, value = item.partition("=")
            if not sep or not value:
                raise OsmoHTTPError(f"Label {item} is incorrectly formatted.", 400, "USAGE")
            labels[key] = value
        with self._lock:
            name = f"{wf_spec['name']}-{next(self._counter)}"
            wf = _Workflow(name=name, uuid=uuid.uuid4().hex, pool=pool, user=user, spec_text=spec_text, spec=wf_spec,
                           labels=labels, parent_name=parent, submit_time=_now(), sandbox=self.workdir / name)
            for d in self.disruptions:
                if all(labels.get(k) == v for k, v in d.labels.items()):
                    wf.disruption = d
                    self.disruptions.remove(d)
                    break
            self.workflows[name] = wf
            self.submissions.append(name)
        threading.Thread(target=self._execute, args=(wf,), daemon=True, name=f"osmo-{name}").start()
        return wf

    def _prefix(self, wf: _Workflow, ctrl: bool = False) -> str:
        """OSMO's log line prefix (src/utils/connectors/redis.py::redis_log_formatter)."""
        task = wf.spec["tasks"][0]["name"] + (f" retry-{wf.retry_id}" if wf.retry_id else "")
        return f"{_now():%Y/%m/%d %H:%M:%S} [{task}]" + ("[osmo]" if ctrl else "")

    def _event(self, wf: _Workflow, text: str) -> None:
        wf.events.append(f"{self._prefix(wf)} {text}")

    def _ctrl(self, wf: _Workflow, text: str) -> None:
        wf.logs.append(f"{self._prefix(wf, ctrl=True)} {text}")

    def _finish(self, wf: _Workflow, status: str, message: str | None = None, exit_code: int | None = None) -> None:
        with self._lock:
            if wf.status not in ALIVE:
                return
            wf.status = wf.task_status = status
            wf.failure_message, wf.exit_code, wf.end_time = message, exit_code, _now()
        self._event(wf, f"{status}" + (f": {message}" if message else ""))
        wf.done.set()  # the end marker of the log and event streams

    def _exit_action(self, wf: _Workflow, exit_code: int) -> str | None:
        """COMPLETE / FAIL / RESCHEDULE for an exit code: the task's exitActions, else the pool's defaults."""
        def find(actions: Mapping[str, Any] | None) -> str | None:
            for action, ranges in (actions or {}).items():
                for interval in str(ranges).split(","):
                    bounds = [int(x) for x in interval.split("-")]
                    if bounds[0] <= exit_code <= bounds[-1]:
                        return action.upper()
            return None

        task = wf.spec["tasks"][0]
        return find(task.get("exitActions")) or find(self.pools[wf.pool].get("default_exit_actions"))

    def _execute(self, wf: _Workflow) -> None:
        task = wf.spec["tasks"][0]
        timeouts = wf.spec.get("timeout") or {}
        queue_timeout = _parse_timeout(timeouts.get("queue_timeout"), 3600)
        exec_timeout = _parse_timeout(timeouts.get("exec_timeout"), 86400)
        wf.task_status = "SCHEDULING"
        self._event(wf, "SCHEDULING: waiting for a node with the requested resources")
        queued_until = time.monotonic() + (queue_timeout if wf.disruption and wf.disruption.hold_in_queue
                                           else self.queue_delay_s)
        while time.monotonic() < queued_until:
            if wf.cancel.wait(0.05):
                return self._finish(wf, "FAILED_CANCELED", f"Workflow was canceled by {wf.cancelled_by}")
        if wf.disruption and wf.disruption.hold_in_queue:
            return self._finish(wf, "FAILED_QUEUE_TIMEOUT", "Task trainer exceeded the queue timeout")
        missing = self._missing_credential_key(task)
        if missing:  # the pod cannot be created: OSMO waits, then calls it a backend error
            self._event(wf, f"SCHEDULING: CreateContainerConfigError: {missing}")
            if wf.cancel.wait(self.config_error_s):
                return self._finish(wf, "FAILED_CANCELED", f"Workflow was canceled by {wf.cancelled_by}")
            code = EXIT_CODES["FAILED_BACKEND_ERROR"]
            return self._finish(wf, "FAILED_BACKEND_ERROR", f"Failure reason: Exit code {code} due to container "
                                f"{task['name']} is waiting: CreateContainerConfigError: {missing}.", code)
        max_retry = int(self.pools[wf.pool].get("max_retry_per_task", 0))
        while True:
            status, message, code = self._run_once(wf, task, exec_timeout)
            if status == "FAILED_CANCELED":
                return self._finish(wf, status, message)
            action = self._exit_action(wf, code) if code is not None else None
            if action == "RESCHEDULE":
                if wf.retry_id < max_retry:
                    self._event(wf, f"RESCHEDULED: Exit Action: RESCHEDULE the task for exit code {code}.")
                    wf.retry_id += 1
                    continue
                message = (message or "") + f" No exit action applied due to retry limit {max_retry}."
            elif action == "FAIL" and status != "FAILED" and code != 0:
                message, status = (message or "") + f" Exit Action: FAIL the task for exit code {code}.", "FAILED"
            elif action == "COMPLETE" and status != "COMPLETED":
                message, status = None, "COMPLETED"
            if status == "COMPLETED":
                self._record_outputs(wf, task)
            return self._finish(wf, status, message, code)

    def _missing_credential_key(self, task: Mapping[str, Any]) -> str | None:
        for cred, mapping in (task.get("credentials") or {}).items():
            for key in (mapping.values() if isinstance(mapping, Mapping) else []):
                if key not in self.credentials.get(cred, {}):
                    return f"couldn't find key {key} in Secret osmo-workflows/{cred}"
        return None

    def _run_once(self, wf: _Workflow, task: Mapping[str, Any], exec_timeout: float) -> tuple[str, str | None,
                                                                                            int | None]:
        """One run of the task in a fresh scratch container: (status, failure message, exit code)."""
        box = Sandbox(self.workdir, f"{wf.name}-r{wf.retry_id}", keep_prefixes=image_prefixes())
        try:
            try:
                command, env = self._prepare(wf, task, box)
            except (OSError, SpecRefused) as e:
                return "FAILED_START_ERROR", f"Task {task['name']} failed to start: {e}", EXIT_CODES[
                    "FAILED_START_ERROR"]
            with self._lock:
                wf.task_status = wf.status = "RUNNING"
                wf.start_time = wf.start_time or _now()
            self._event(wf, "RUNNING on node standin-node-0")
            self._ctrl(wf, f"Running {task['name']}")
            proc = subprocess.Popen(command, env=env, cwd=box.cwd, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, start_new_session=True)
            wf.process, wf.box = proc, box
            reader = threading.Thread(target=self._read_logs, args=(wf, proc), daemon=True)
            reader.start()
            started = time.monotonic()
            while proc.poll() is None:
                outcome = None
                elapsed = time.monotonic() - started
                d = wf.disruption
                if wf.cancel.is_set():
                    outcome = ("FAILED_CANCELED", f"Workflow was canceled by {wf.cancelled_by}", None)
                elif d and (d.when() if d.when else elapsed >= d.after_s):
                    wf.disruption = None  # one strike per injection
                    outcome = (d.status, f"Task {task['name']} was lost: {d.status} (injected by the stand-in)",
                               EXIT_CODES.get(d.status, 3001))
                elif elapsed > exec_timeout:
                    outcome = ("FAILED_EXEC_TIMEOUT", f"Task {task['name']} exceeded the exec timeout", None)
                if outcome:
                    graceful = (outcome[0] in GRACEFUL_LOSSES
                                or outcome[0] == "FAILED_CANCELED" and not wf.force_cancel)
                    self._kill(wf, grace_s=self.grace_s if graceful else 0)
                    reader.join(5)
                    return outcome
                time.sleep(0.05)
            reader.join(10)
            if proc.returncode == 0:
                return "COMPLETED", None, 0
            return "FAILED", f"Task {task['name']} failed with exit code {proc.returncode}", proc.returncode
        finally:
            box.remove()  # the task's scratch dies with it

    def _prepare(self, wf: _Workflow, task: Mapping[str, Any], box: Sandbox) -> tuple[list[str], dict[str, str]]:
        (box.root / "output").mkdir(exist_ok=True)

        def local(text: str) -> str:
            text = text.replace("{{workflow_id}}", wf.name).replace("{{output}}", "/output")
            return box.reroot(text)

        for entry in task.get("files") or []:
            target = box.path(entry["path"])
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(str(entry.get("contents", "")).replace("{{workflow_id}}", wf.name))
        command = [local(str(c)) for c in [*task["command"], *(task.get("args") or [])]]
        if command[0] in ("python", "python3"):
            command[0] = sys.executable  # the image's interpreter
        spec_env = {k: str(v).replace("{{workflow_id}}", wf.name) for k, v in (task.get("environment") or {}).items()}
        for cred, mapping in (task.get("credentials") or {}).items():
            if isinstance(mapping, Mapping):
                for var, key in mapping.items():
                    spec_env[var] = self.credentials[cred][key]
        spec_env["OSMO_WORKFLOW_ID"] = wf.name
        return command, box.env(self.base_env, spec_env)

    def _read_logs(self, wf: _Workflow, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            wf.logs.append(f"{self._prefix(wf)} {line}")

    def _record_outputs(self, wf: _Workflow, task: Mapping[str, Any]) -> None:
        for out in task.get("outputs") or []:  # a real upload goes to the data store; nothing lands on this machine
            self._ctrl(wf, f"Uploading {{{{output}}}} to {out.get('url', '')}")
            self._event(wf, f"uploaded outputs to {out.get('url', '')}")

    def _kill(self, wf: _Workflow, grace_s: float = 0) -> None:
        """Stop the task's process group: SIGTERM and up to `grace_s` to exit (a graceful pod deletion), then
        SIGKILL; `grace_s=0` kills at once (a lost node, a forced cancel)."""
        proc = wf.process
        if proc is None or proc.poll() is not None:
            return
        if grace_s > 0:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(grace_s)
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    # -- HTTP --------------------------------------------------------------------------------------------------
    def _get(self, name: str) -> _Workflow:
        wf = self.workflows.get(name)
        if wf is None:
            raise OsmoHTTPError(f"Workflow {name} is not found.", 400, "DATABASE", name)
        return wf

    def _query(self, wf: _Workflow, base_url: str) -> dict[str, Any]:
        task = wf.spec["tasks"][0]
        end = wf.end_time or _now()
        task_entry = {
            "name": task["name"], "retry_id": wf.retry_id, "status": wf.task_status, "failure_message": wf.failure_message,
            "exit_code": wf.exit_code, "logs": f"{base_url}/api/workflow/{wf.name}/logs?task_name={task['name']}",
            "error_logs": None, "events": f"{base_url}/api/workflow/{wf.name}/events?task_name={task['name']}",
            "start_time": wf.start_time and wf.start_time.isoformat(),
            "end_time": wf.end_time and wf.end_time.isoformat(), "pod_name": f"{wf.uuid[:12]}-{task['name']}",
            "task_uuid": wf.uuid, "node_name": "standin-node-0" if wf.start_time else None, "lead": True,
        }
        return {
            "name": wf.name, "uuid": wf.uuid, "submitted_by": wf.user, "cancelled_by": wf.cancelled_by,
            "spec": f"{base_url}/api/workflow/{wf.name}/spec", "template_spec": f"{base_url}/api/workflow/{wf.name}/spec",
            "logs": f"{base_url}/api/workflow/{wf.name}/logs?last_n_lines=1000",
            "events": f"{base_url}/api/workflow/{wf.name}/events", "overview": f"{base_url}/workflows/{wf.name}",
            "parent_name": wf.parent_name, "tags": [], "submit_time": wf.submit_time.isoformat(),
            "start_time": wf.start_time and wf.start_time.isoformat(),
            "end_time": wf.end_time and wf.end_time.isoformat(),
            "queued_time": ((wf.start_time or end) - wf.submit_time).total_seconds(),
            "duration": (end - wf.start_time).total_seconds() if wf.start_time else None,
            "status": wf.status, "outputs": "", "pool": wf.pool, "backend": "standin", "priority": "NORMAL",
            "plugins": {}, "labels": dict(wf.labels), "warnings": [],
            "groups": [{"name": task["name"], "status": wf.task_status, "failure_message": wf.failure_message,
                        "start_time": task_entry["start_time"], "end_time": task_entry["end_time"],
                        "tasks": [task_entry]}],
        }

    def _list_entry(self, wf: _Workflow, base_url: str) -> dict[str, Any]:
        q = self._query(wf, base_url)
        keys = ("name", "submit_time", "start_time", "end_time", "queued_time", "duration", "status", "overview",
                "logs", "pool", "priority", "labels")
        return {"user": wf.user, "workflow_uuid": wf.uuid, **{k: q[k] for k in keys}}

    def _stream(self, wf: _Workflow, lines: list[str], follow: bool, last_n: int | None) -> Iterator[bytes]:
        pos = max(0, len(lines) - last_n) if last_n else 0
        while True:
            finished = wf.done.is_set()
            while pos < len(lines):
                yield (lines[pos] + "\n").encode()
                pos += 1
            if finished or not follow:
                return
            time.sleep(0.1)

    def _build_app(self) -> fastapi.FastAPI:
        app = fastapi.FastAPI(title="OSMO stand-in")

        @app.exception_handler(OsmoHTTPError)
        async def _osmo_error(request: fastapi.Request, error: OsmoHTTPError):
            return JSONResponse(status_code=error.status_code,
                                content={"message": error.message, "error_code": error.error_code,
                                         "workflow_id": error.workflow_id})

        @app.middleware("http")
        async def _auth(request: fastapi.Request, call_next):
            path = request.url.path
            if self.token and path.startswith("/api/") and path not in AUTH_PATHS:
                problem = self.check_jwt(request.headers.get("authorization"))
                if problem:  # the gateway (Envoy jwt_authn) answers before the service sees the call
                    self.auth_failures.append(path)
                    return PlainTextResponse(problem, status_code=401)
            return await call_next(request)

        @app.post("/api/auth/jwt/access_token")
        def jwt_from_access_token_post(body: dict[str, Any]):  # what login.py's token_login posts
            return self.issue_jwt(str(body.get("token", "")))

        @app.get("/api/auth/jwt/access_token")
        def jwt_from_access_token(access_token: str):  # the service's own route
            return self.issue_jwt(access_token)

        def base(request: fastapi.Request) -> str:
            return str(request.base_url).rstrip("/")

        @app.post("/api/pool/{pool}/workflow")
        def submit_workflow(pool: str, request: fastapi.Request, body: dict[str, Any] | None = None,
                            workflow_id: str | None = None, dry_run: bool = False, validation_only: bool = False,
                            priority: str = "NORMAL", label: Repeated = None,
                            x_osmo_user: str | None = fastapi.Header(default=None)):
            if label is None:
                label = []
            if body and workflow_id:
                raise OsmoHTTPError("Either file contents or workflow ID can be provided, but not both.", 400, "USAGE")
            if workflow_id:
                spec_text, parent = self._get(workflow_id).spec_text, workflow_id
            elif body and body.get("file"):
                spec_text, parent = str(body["file"]), None
            else:
                raise OsmoHTTPError("Need to provide either file contents or workflow ID.", 400, "USAGE")
            if dry_run:
                return {"name": "dry-run", "spec": spec_text, "warnings": []}
            if validation_only:
                yaml.safe_load(spec_text)
                return {"name": "validation", "logs": "Workflow validation succeeded.", "warnings": []}
            wf = self.submit(pool, spec_text, label, x_osmo_user or "standin-user", parent)
            return {"name": wf.name, "overview": f"{base(request)}/workflows/{wf.name}",
                    "dashboard_url": None, "warnings": []}

        @app.post("/api/pool/{pool}/workflow/{workflow_id}/restart")
        def restart_workflow(pool: str, workflow_id: str, request: fastapi.Request,
                             x_osmo_user: str | None = fastapi.Header(default=None)):
            old = self._get(workflow_id)
            if not old.status.startswith("FAILED"):
                raise OsmoHTTPError(f"Restart can only be used on FAILED workflows: Workflow {workflow_id} has "
                                    f"status {old.status}", 400, "SUBMISSION", workflow_id)
            wf = self.submit(pool, old.spec_text, [f"{k}={v}" for k, v in old.labels.items()],
                             x_osmo_user or old.user, parent=workflow_id)
            return {"name": wf.name, "overview": f"{base(request)}/workflows/{wf.name}", "warnings": []}

        @app.get("/api/workflow/{name}")
        def get_workflow(name: str, request: fastapi.Request, skip_groups: bool = False, verbose: bool = False):
            return self._query(self._get(name), base(request))

        @app.get("/api/workflow/{name}/spec", response_class=PlainTextResponse)
        def get_spec(name: str):
            return self._get(name).spec_text

        @app.get("/api/workflow/{name}/logs")
        def get_logs(name: str, last_n_lines: int | None = None, task_name: str | None = None):
            wf = self._get(name)
            return StreamingResponse(self._stream(wf, wf.logs, follow=True, last_n=last_n_lines),
                                     media_type="text/plain")

        @app.get("/api/workflow/{name}/events")
        def get_events(name: str, task_name: str | None = None):
            wf = self._get(name)
            return StreamingResponse(self._stream(wf, wf.events, follow=True, last_n=None), media_type="text/plain")

        @app.post("/api/workflow/{name}/cancel")
        def cancel_workflow(name: str, message: str | None = None, force: bool = False,
                            x_osmo_user: str | None = fastapi.Header(default=None)):
            wf = self._get(name)
            if wf.status not in ALIVE and not force:
                raise OsmoHTTPError(f"Workflow {name} is already finished.", 400, "USER", name)
            wf.cancelled_by = x_osmo_user or "standin-user"
            wf.force_cancel = force
            wf.cancel.set()
            return {"name": wf.name}

        @app.get("/api/workflow")
        def list_workflow(request: fastapi.Request, label: Repeated = None,
                          statuses: Repeated = None, pools: Repeated = None,
                          all_pools: bool = False, all_users: bool = False, offset: int = 0, limit: int = 20,
                          order: str = "ASC"):
            if pools is None:
                pools = []
            if statuses is None:
                statuses = []
            if label is None:
                label = []
            if limit > 1000:
                raise OsmoHTTPError("Limit must be less than 1000.")
            wanted = dict(item.partition("=")[::2] for item in label)
            rows = [w for w in self.workflows.values()
                    if all(w.labels.get(k) == v for k, v in wanted.items())
                    and (not statuses or w.status in statuses) and (all_pools or not pools or w.pool in pools)]
            rows.sort(key=lambda w: w.submit_time, reverse=order == "DESC")
            page = rows[offset:offset + limit]
            return {"workflows": [self._list_entry(w, base(request)) for w in page],
                    "more_entries": len(rows) > offset + limit}

        @app.post("/standin/disruptions")
        def add_disruption(body: dict[str, Any]):
            self.inject_disruption(body["status"], float(body.get("after_s", 1.0)), body.get("labels"),
                                   bool(body.get("hold_in_queue", False)))
            return {"ok": True}

        return app


def render_jinja(spec_text: str) -> str:
    """The service's rendering of a submitted file: OSMO tokens kept, everything else through sandboxed Jinja."""
    data: dict[str, str] = {}

    def keep(match: re.Match[str]) -> str:
        key = "hash" + hashlib.md5(match.group(1).encode()).hexdigest()
        data[key] = match.group(0)
        return "{{" + key + "}}"

    text = _OSMO_TOKEN.sub(keep, spec_text)
    try:
        env = jinja2.sandbox.SandboxedEnvironment(undefined=jinja2.StrictUndefined)
        return env.from_string(text).render(**data)
    except (jinja2.TemplateError, TypeError) as e:
        raise OsmoHTTPError(f"Jinja Template Error: {e}", 400, "USAGE") from None


class StandInServer:
    """Runs an `OsmoStandIn` on 127.0.0.1 in a background thread (`with StandInServer(...) as s: s.url`)."""

    def __init__(self, standin: OsmoStandIn, port: int = 0):
        self.standin = standin
        import socket

        if not port:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port = sock.getsockname()[1]
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._server = uvicorn.Server(uvicorn.Config(standin.app, host="127.0.0.1", port=port, log_level="warning",
                                                     lifespan="off"))
        self._thread = threading.Thread(target=self._server.run, daemon=True, name="osmo-standin")

    def __enter__(self) -> Self:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("OSMO stand-in did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.standin.shutdown()
        self._server.should_exit = True
        self._thread.join(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--token", default=os.environ.get("OSMO_STANDIN_TOKEN"))
    parser.add_argument("--pool", action="append", default=None)
    args = parser.parse_args()
    standin = OsmoStandIn(token=args.token, pools=tuple(args.pool or ["default"]))
    uvicorn.run(standin.app, host="127.0.0.1", port=args.port, log_level="info")


if __name__ == "__main__":
    main()
