"""STAND-IN for `kubernetes.client.CoreV1Api` (no Kubernetes API server can run here). Not Kubernetes.

Implements the pod calls the k8s backend and dagster-k8s make (create/read/delete/list_namespaced_pod,
read_namespaced_pod_log, list_namespaced_event) with the API's model objects (`V1Pod`, `V1PodList`, as the real
client returns them) and errors as `kubernetes.client.ApiException` (404, 409; transient 5xx on demand via
`fail_next`). Pod lifecycle as the kubelet drives it:
- **Pending** first (`ContainerCreating`) for `pending_s`; an image listed in `unpullable` goes to `ErrImagePull`
  then `ImagePullBackOff` and never starts; a `secretKeyRef` to a missing secret or key gives
  `CreateContainerConfigError` with the kubelet's message; a Pipes parameter naming a file on this machine is a
  `CreateContainerConfigError` too (no pod could read it).
- **Running**: the container's command REALLY runs as a local process in a private scratch "container"
  (`tests/standins/sandbox.py`: own cwd/HOME/TMPDIR, every absolute path of the spec re-rooted, the image's
  environment plus the spec's env, secretKeyRef values from the stand-in's secret table), removed when the pod ends.
  stdout/stderr become the pod log (RFC 3339 timestamps with `timestamps=True`, `follow=True` streams until the
  container ends), so the `pod-logs` Pipes mode of dagster-k8s runs for real.
- **delete** = graceful termination: `deletionTimestamp` set, SIGTERM, up to `terminationGracePeriodSeconds`
  (capped by `max_grace_s` for tests), then SIGKILL; the pod disappears after.
- kubelet effects injected on purpose: an eviction (`status.reason: Evicted` + `DisruptionTarget`, SIGTERM then
  SIGKILL like a node-pressure eviction) or a node loss (SIGKILL, the pod vanishes).
Status shapes follow the Kubernetes API reference (core/v1 PodStatus, ContainerStatus, ContainerStateWaiting).
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes

from tests.standins.sandbox import Sandbox, SpecRefused, image_prefixes

_CLIENT = kubernetes.client.ApiClient()


def _model(data: Any, klass: str) -> Any:
    return _CLIENT._ApiClient__deserialize(copy.deepcopy(data), klass)  # the real client's own deserializer


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _LogResponse:
    """What `read_namespaced_pod_log(..., _preload_content=False)` returns: `.data`, `.stream()`, iteration."""

    def __init__(self, lines: Callable[[], list[str]], follow: bool, alive: Callable[[], bool]):
        self._lines, self._follow, self._alive = lines, follow, alive

    @property
    def data(self) -> bytes:
        return "".join(line + "\n" for line in self._lines()).encode()

    def stream(self, *args: Any, **kwargs: Any):
        pos = 0
        while True:
            alive = self._alive()
            lines = self._lines()
            while pos < len(lines):
                yield (lines[pos] + "\n").encode()
                pos += 1
            if not (self._follow and alive):
                return
            time.sleep(0.05)

    __iter__ = stream

    def release_conn(self) -> None:
        pass


class FakeCoreV1Api:
    def __init__(self, workdir: Path, base_env: dict[str, str], secrets: dict[str, dict[str, str]], *,
                 pending_s: float = 0.05, max_grace_s: float = 5.0):
        self.workdir, self.base_env, self.secrets = Path(workdir), base_env, secrets
        self.pending_s = pending_s  # how long a new pod stays Pending (ContainerCreating) before it runs
        self.max_grace_s = max_grace_s  # caps terminationGracePeriodSeconds so tests stay fast
        self.unpullable: set[str] = set()  # images whose pull fails (ErrImagePull -> ImagePullBackOff)
        self.api_client = _CLIENT
        self.pods: dict[str, dict[str, Any]] = {}
        self.procs: dict[str, subprocess.Popen] = {}
        self.sandboxes: dict[str, Sandbox] = {}
        self.logs: dict[str, list[str]] = {}
        self.signals: dict[str, list[str]] = {}  # what each pod's process was sent, in order
        self.created: list[dict[str, Any]] = []
        # (after_s or a predicate, "Evicted" | "node-lost") for the next pods
        self.disruptions: list[tuple[float | Callable[[], bool], str]] = []
        self._failures: list[int] = []
        self._lock = threading.RLock()

    # -- test controls -------------------------------------------------------------------------------------------
    def fail_next(self, status: int = 503, times: int = 1) -> None:
        """The next `times` API calls answer `status` (an API server restart, an overloaded control plane)."""
        self._failures += [status] * times

    def _maybe_fail(self) -> None:
        with self._lock:
            status = self._failures.pop(0) if self._failures else None
        if status:
            raise kubernetes.client.ApiException(status=status, reason="stand-in: injected API error")

    # -- pods --------------------------------------------------------------------------------------------------
    def create_namespaced_pod(self, namespace: str, body: dict[str, Any], **_: Any) -> Any:
        self._maybe_fail()
        body = body if isinstance(body, dict) else _CLIENT.sanitize_for_serialization(body)
        name = body["metadata"]["name"]
        with self._lock:
            if name in self.pods:
                raise kubernetes.client.ApiException(status=409, reason=f'pods "{name}" already exists')
            (container,) = body["spec"]["containers"]
            pod = {**copy.deepcopy(body), "metadata": {**body["metadata"], "creationTimestamp": _now(),
                                                       "namespace": namespace},
                   "status": {"phase": "Pending", "conditions": [], "containerStatuses": [
                       {"name": container["name"], "image": container["image"], "imageID": "", "ready": False,
                        "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}]}}
            self.pods[name] = pod
            self.logs[name] = []
            self.signals[name] = []
            self.created.append(body)
        threading.Thread(target=self._kubelet, args=(name,), daemon=True, name=f"kubelet-{name}").start()
        return _model(pod, "V1Pod")

    def _waiting(self, name: str, reason: str, message: str) -> None:
        with self._lock:
            pod = self.pods.get(name)
            if pod:
                pod["status"]["containerStatuses"][0]["state"] = {"waiting": {"reason": reason, "message": message}}

    def _kubelet(self, name: str) -> None:
        time.sleep(self.pending_s)
        with self._lock:
            pod = self.pods.get(name)
            if pod is None:
                return
            spec = copy.deepcopy(pod["spec"])
        (container,) = spec["containers"]
        if container["image"] in self.unpullable:
            msg = f'rpc error: code = NotFound desc = failed to pull and unpack image "{container["image"]}": not found'
            self._waiting(name, "ErrImagePull", msg)
            time.sleep(0.2)
            return self._waiting(name, "ImagePullBackOff", f'Back-off pulling image "{container["image"]}"')
        box = Sandbox(self.workdir, name, keep_prefixes=image_prefixes())
        try:
            spec_env: dict[str, str] = {}
            for item in container.get("env", []):
                if "valueFrom" in item:
                    ref = item["valueFrom"]["secretKeyRef"]
                    secret = self.secrets.get(ref["name"])
                    if secret is None:
                        raise SpecRefused(f'secret "{ref["name"]}" not found')
                    if ref["key"] not in secret:
                        raise SpecRefused(f"couldn't find key {ref['key']} in Secret "
                                          f"{pod['metadata']['namespace']}/{ref['name']}")
                    spec_env[item["name"]] = secret[ref["key"]]
                else:
                    spec_env[item["name"]] = item.get("value", "")
            env = box.env(self.base_env, spec_env)
        except SpecRefused as e:
            box.remove()
            return self._waiting(name, "CreateContainerConfigError", str(e))
        for mount in container.get("volumeMounts", []):
            box.path(mount["mountPath"]).mkdir(parents=True, exist_ok=True)
        command = [box.reroot(c).replace("exec python ", f"exec {sys.executable} ")
                   for c in [*container["command"], *container.get("args", [])]]
        with self._lock:
            if name not in self.pods:
                return box.remove()
            proc = subprocess.Popen(command, env=env, cwd=box.cwd, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, start_new_session=True)
            self.procs[name], self.sandboxes[name] = proc, box
            status = self.pods[name]["status"]
            status.update(phase="Running", startTime=_now(), podIP="10.244.0.7", hostIP="10.224.0.4")
            status["containerStatuses"][0].update(ready=True, started=True, state={"running": {"startedAt": _now()}})
            status["conditions"] = [{"type": "Ready", "status": "True"}]
        threading.Thread(target=self._collect_logs, args=(name, proc), daemon=True).start()
        if self.disruptions:
            trigger, kind = self.disruptions.pop(0)
            threading.Thread(target=self._disrupt_when, args=(name, trigger, kind), daemon=True).start()
        return None

    def _collect_logs(self, name: str, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            self.logs[name].append(f"{_now()} {raw.decode('utf-8', errors='replace').rstrip(chr(10))}")
        proc.wait()
        with self._lock:
            box = self.sandboxes.pop(name, None)
            pod = self.pods.get(name)
            if pod and pod["status"]["phase"] == "Running":
                code = proc.returncode
                pod["status"]["phase"] = "Succeeded" if code == 0 else "Failed"
                pod["status"]["containerStatuses"][0].update(ready=False, state={"terminated": {
                    "exitCode": code if code >= 0 else 128 - code,
                    "reason": "Completed" if code == 0 else "Error", "finishedAt": _now()}})
        if box:
            box.remove()  # the pod's scratch dies with its container

    def _signal(self, name: str, sig: signal.Signals) -> None:
        proc = self.procs.get(name)
        if proc and proc.poll() is None:
            self.signals[name].append(sig.name)
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                pass

    def _terminate(self, name: str, grace_s: float) -> None:
        """SIGTERM, wait up to the grace period, SIGKILL: what the kubelet does to a deleted or evicted pod."""
        self._signal(name, signal.SIGTERM)
        proc = self.procs.get(name)
        if proc is not None:
            try:
                proc.wait(min(grace_s, self.max_grace_s))
            except subprocess.TimeoutExpired:
                self._signal(name, signal.SIGKILL)
                proc.wait(10)

    def _disrupt_when(self, name: str, trigger: float | Callable[[], bool], kind: str) -> None:
        deadline = time.monotonic() + trigger if not callable(trigger) else None
        while self.procs[name].poll() is None:
            if (trigger() if callable(trigger) else time.monotonic() >= deadline):
                return self._disrupt(name, kind)
            time.sleep(0.02)
        return None

    def _disrupt(self, name: str, kind: str) -> None:
        with self._lock:  # the status changes before the process dies, as the API server sees it
            if name not in self.pods:
                return
            if kind == "node-lost":
                del self.pods[name]
            else:
                self.pods[name]["status"].update(phase="Failed", reason=kind, message="stand-in kubelet: "
                                                 "The node was low on resource: memory.",
                                                 conditions=[{"type": "DisruptionTarget", "status": "True",
                                                              "reason": "TerminationByKubelet"}])
        if kind == "node-lost":
            self._signal(name, signal.SIGKILL)
        else:
            self._terminate(name, 2.0)

    def _pod(self, name: str) -> dict[str, Any]:
        pod = self.pods.get(name)
        if pod is None:
            raise kubernetes.client.ApiException(status=404, reason="NotFound")
        return pod

    def read_namespaced_pod(self, name: str, namespace: str, **_: Any) -> Any:
        self._maybe_fail()
        with self._lock:
            return _model(self._pod(name), "V1Pod")

    def delete_namespaced_pod(self, name: str, namespace: str, grace_period_seconds: int | None = None,
                              **_: Any) -> Any:
        self._maybe_fail()
        with self._lock:
            pod = self._pod(name)
            if pod["metadata"].get("deletionTimestamp"):
                return _model(pod, "V1Pod")
            pod["metadata"]["deletionTimestamp"] = _now()
            grace = grace_period_seconds if grace_period_seconds is not None else \
                pod["spec"].get("terminationGracePeriodSeconds", 30)

        def finish() -> None:
            self._terminate(name, grace)
            with self._lock:
                self.pods.pop(name, None)
                box = self.sandboxes.pop(name, None)
            if box:
                box.remove()

        threading.Thread(target=finish, daemon=True).start()
        return _model(pod, "V1Pod")

    def list_namespaced_pod(self, namespace: str, label_selector: str = "", field_selector: str = "",
                            **_: Any) -> Any:
        self._maybe_fail()
        wanted = dict(item.split("=", 1) for item in label_selector.split(",") if item)
        fields = dict(item.split("=", 1) for item in field_selector.split(",") if item)
        with self._lock:
            items = [copy.deepcopy(p) for n, p in self.pods.items()
                     if all(p["metadata"]["labels"].get(k) == v for k, v in wanted.items())
                     and fields.get("metadata.name", n) == n]
        return _model({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": items}, "V1PodList")

    def read_namespaced_pod_log(self, name: str, namespace: str, container: str | None = None, follow: bool = False,
                                timestamps: bool = False, since_seconds: int | None = None,
                                tail_lines: int | None = None, _preload_content: bool = True, **_: Any) -> Any:
        self._maybe_fail()
        with self._lock:
            pod = self._pod(name)
            if "running" not in pod["status"]["containerStatuses"][0]["state"] and \
                    "terminated" not in pod["status"]["containerStatuses"][0]["state"] and name not in self.procs:
                raise kubernetes.client.ApiException(
                    status=400, reason=f'container "trainer" in pod "{name}" is waiting to start: ContainerCreating')

        def lines() -> list[str]:
            out = list(self.logs.get(name, []))
            if tail_lines:
                out = out[-tail_lines:]
            return out if timestamps else [line.split(" ", 1)[1] if " " in line else "" for line in out]

        def alive() -> bool:
            proc = self.procs.get(name)
            return proc is not None and proc.poll() is None

        response = _LogResponse(lines, follow, alive)
        return response if not _preload_content else response.data.decode()

    def list_namespaced_event(self, namespace: str, field_selector: str = "", **_: Any) -> Any:
        name = dict(item.split("=", 1) for item in field_selector.split(",") if item).get("involvedObject.name")
        events = []
        with self._lock:
            pod = self.pods.get(name or "")
            waiting = (pod or {}).get("status", {}).get("containerStatuses", [{}])[0].get("state", {}).get("waiting")
        if waiting and waiting.get("reason") not in (None, "ContainerCreating"):
            events.append({"metadata": {"name": f"{name}.1"}, "type": "Warning", "reason": "Failed",
                           "message": f"Error: {waiting['reason']}", "count": 1,
                           "involvedObject": {"kind": "Pod", "name": name}})
        return _model({"apiVersion": "v1", "kind": "EventList", "metadata": {}, "items": events}, "CoreV1EventList")

    def shutdown(self) -> None:
        for name in list(self.procs):
            self._signal(name, signal.SIGKILL)
        for box in list(self.sandboxes.values()):
            box.remove()
