"""STAND-IN for `kubernetes.client.CoreV1Api` (no Kubernetes API server can run here). Not Kubernetes.

Implements the four pod calls the k8s backend makes (create/read/delete/list_namespaced_pod) with the API's status
shapes (phase, reason, conditions, containerStatuses) and 404/409 errors as `kubernetes.client.ApiException`. A
created pod REALLY runs its container's command as a local process with the manifest's env (secretKeyRef values
from a local secret table), so the trainer and Pipes are real; "kubelet" effects are injected on purpose: an
eviction (`status.reason: Evicted` + `DisruptionTarget`) or a node loss (the pod vanishes).
"""

from __future__ import annotations

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

from robotics_assets.lib.launch.k8s import CONFIG_PATH


class FakeCoreV1Api:
    def __init__(self, workdir: Path, base_env: dict[str, str], secrets: dict[str, dict[str, str]]):
        self.workdir, self.base_env, self.secrets = workdir, base_env, secrets
        self.pods: dict[str, dict[str, Any]] = {}
        self.procs: dict[str, subprocess.Popen] = {}
        self.created: list[dict[str, Any]] = []
        # (after_s or a predicate, "Evicted" | "node-lost") for the next pods
        self.disruptions: list[tuple[float | Callable[[], bool], str]] = []
        self._lock = threading.Lock()

    def create_namespaced_pod(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        name = body["metadata"]["name"]
        with self._lock:
            if name in self.pods:
                raise kubernetes.client.ApiException(status=409, reason=f'pods "{name}" already exists')
            stamp = f"2026-01-01T00:00:{len(self.created):02d}Z"  # creation order, as the API server stamps it
            pod = {**body, "metadata": {**body["metadata"], "creationTimestamp": stamp},
                   "status": {"phase": "Running", "conditions": []}}
            self.pods[name] = pod
            self.created.append(body)
        (container,) = body["spec"]["containers"]
        sandbox = self.workdir / name
        sandbox.mkdir(parents=True)
        env = dict(self.base_env)
        for item in container.get("env", []):
            if "valueFrom" in item:
                ref = item["valueFrom"]["secretKeyRef"]
                env[item["name"]] = self.secrets[ref["name"]][ref["key"]]
            else:
                env[item["name"]] = item["value"]
        command = [c.replace(CONFIG_PATH, str(sandbox / "task.yaml")).replace("exec python ", f"exec {sys.executable} ")
                   for c in container["command"]]
        args = [a.replace(CONFIG_PATH, str(sandbox / "task.yaml")) for a in container.get("args", [])]
        self.procs[name] = subprocess.Popen([*command, *args], env=env, cwd=sandbox,
                                            start_new_session=True)
        if self.disruptions:
            trigger, kind = self.disruptions.pop(0)
            threading.Thread(target=self._disrupt_when, args=(name, trigger, kind), daemon=True).start()
        return pod

    def _kill(self, name: str) -> None:
        proc = self.procs.get(name)
        if proc and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
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
                self.pods[name]["status"] = {"phase": "Failed", "reason": kind, "message": "stand-in kubelet",
                                             "conditions": [{"type": "DisruptionTarget", "status": "True"}]}
        self._kill(name)

    def read_namespaced_pod(self, name: str, namespace: str) -> dict[str, Any]:
        with self._lock:
            pod = self.pods.get(name)
            if pod is None:
                raise kubernetes.client.ApiException(status=404, reason="NotFound")
            proc = self.procs[name]
            if pod["status"]["phase"] == "Running" and proc.poll() is not None:
                pod["status"] = {"phase": "Succeeded" if proc.returncode == 0 else "Failed", "containerStatuses": [
                    {"name": "trainer", "state": {"terminated": {"exitCode": proc.returncode,
                                                                 "reason": "Completed" if proc.returncode == 0
                                                                 else "Error"}}}]}
            return pod

    def delete_namespaced_pod(self, name: str, namespace: str, grace_period_seconds: int | None = None) -> None:
        self._kill(name)
        with self._lock:
            if self.pods.pop(name, None) is None:
                raise kubernetes.client.ApiException(status=404, reason="NotFound")

    def list_namespaced_pod(self, namespace: str, label_selector: str = "") -> dict[str, Any]:
        wanted = dict(item.split("=", 1) for item in label_selector.split(",") if item)
        with self._lock:
            names = [n for n, p in self.pods.items()
                     if all(p["metadata"]["labels"].get(k) == v for k, v in wanted.items())]
        return {"items": [self.read_namespaced_pod(n, namespace) for n in names]}

    def shutdown(self) -> None:
        for name in list(self.procs):
            self._kill(name)
        time.sleep(0)
