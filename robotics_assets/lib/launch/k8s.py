"""`k8s` backend: the trainer step as a bare Pod on the region's AKS GPU node pool, with restart-and-resume.

Built from dagster-k8s pieces (its Pipes context injector, pod-log message reader and API client) rather than
`PipesK8sClient.run`, because that call names the pod after the Dagster run (one name for every attempt), deletes it
before its status can be read, and waits 24 h with known hangs when the node disappears. Here each attempt is its own
pod (`restartPolicy: Never`), watched by a poll loop that tells a disruption (spot eviction, node loss, preemption:
the `DisruptionTarget` condition, an eviction reason, or the pod vanishing with its node) from the trainer's own
failure. Disruptions start a new attempt with `--resume` within `restart_budget`; an application failure fails the
asset. Pods are labelled like OSMO workflows, so a retried run adopts its orphan and another run's live pod for the
same partition makes the launch refuse. Every manifest comes from the region settings (Terraform outputs) only.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import dagster as dg

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
from robotics_assets.lib.secrets import redact

if TYPE_CHECKING:
    from robotics_assets.lib.settings import Settings

CONFIG_PATH = "/tmp/robotics/task.yaml"
CONFIG_ENV = "ROBOTICS_TASK_CONFIG"
WARP_CACHE_PATH = "/var/cache/warp"
GPU_RESOURCE = "nvidia.com/gpu"
# Pod status reasons that mean the node or the scheduler took the pod away, not our code.
DISRUPTION_REASONS = frozenset({"Evicted", "NodeLost", "NodeShutdown", "Shutdown", "Terminated", "Preempting",
                                "DeletionByTaintManager", "DeletionByPodGC", "UnexpectedAdmissionError"})
# Kubernetes versions the manifests are validated against (AKS-supported minors as of 2026-11).
SUPPORTED_K8S_VERSIONS = ("1.32.0", "1.33.0", "1.34.0", "1.35.0")


@dataclass(frozen=True)
class K8sOptions:
    """Everything a pod needs, resolved from the region's Terraform outputs + `backend_options`."""

    namespace: str
    image: str
    service_account: str
    identity_client_id: str
    node_selector: Mapping[str, str]
    taints: list[Mapping[str, str]]
    gpus_per_node: int
    cpu: str = "8"
    memory: str = "64Gi"
    shm_size: str = "16Gi"
    secret_env: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # ENV -> {name, key}
    env: Mapping[str, str] = field(default_factory=dict)
    warp_cache_pvc: str | None = None  # a PersistentVolumeClaim keeps compiled Warp kernels across pods
    restart_budget: int = 3
    exec_timeout_s: float = 24 * 3600  # activeDeadlineSeconds: bounds a multi-hour run, never hangs forever
    startup_timeout_s: float = 30 * 60  # Pending this long (no GPU node scaled up): give up
    poll_interval_s: float = 10.0
    termination_grace_s: int = 120  # the trainer saves a checkpoint on SIGTERM
    delete_pods: bool = True  # cleanup policy: finished pods are deleted (logs are in Dagster already)
    priority_class: str | None = None
    pipes: str = "pod-logs"
    pipes_options: Mapping[str, Any] = field(default_factory=dict)
    python: str = "python"
    module: str = "trainer"

    @classmethod
    def from_region(cls, region: str, outputs: Mapping[str, Any], options: Mapping[str, Any]) -> K8sOptions:
        opts = dict(options)
        check_option_keys(cls, opts, f"region {region}: backend_options", extra=("node_pool",),
                          derived=("namespace", "service_account", "identity_client_id", "node_selector", "taints",
                                   "gpus_per_node"))
        aks = outputs.get("aks") or {}
        where = f"region {region}"
        for key in ("namespace", "training_service_account", "training_identity_client_id"):
            if not aks.get(key):
                raise ValueError(f"{where}: aks.{key}: missing in the Terraform outputs")
        pools = outputs.get("gpu_node_pools") or {}
        pool_name = opts.pop("node_pool", None) or outputs.get("default_gpu_pool")  # Terraform's default pool
        if pool_name not in pools:
            raise ValueError(f"{where}: backend_options.node_pool: {pool_name!r} is not a GPU node pool "
                             f"(allowed: {', '.join(pools) or 'none defined'})")
        pool = pools[pool_name]
        image = opts.pop("image", None) or (outputs.get("container_registry") or {}).get("trainer_image")
        if not image:
            raise ValueError(f"{where}: container_registry.trainer_image: missing in the Terraform outputs")
        return cls(namespace=aks["namespace"], image=image, service_account=aks["training_service_account"],
                   identity_client_id=aks["training_identity_client_id"],
                   node_selector=dict(pool.get("node_selector") or {}), taints=list(pool.get("taints") or []),
                   gpus_per_node=int(pool.get("gpus_per_node") or 0), **opts)


def pod_name(identity: LaunchIdentity, attempt: int) -> str:
    """DNS-1123 name, unique per launch and attempt, readable in `kubectl get pods`."""
    digest = hashlib.sha256(f"{identity.run_id}/{identity.asset}/{identity.partition}".encode()).hexdigest()[:8]
    stem = re.sub(r"[^a-z0-9-]+", "-", f"{identity.step}-{identity.partition}".lower()).strip("-")[:40].strip("-")
    return f"{stem}-{digest}-{identity.run_key[:8]}-a{attempt}"


def build_pod_manifest(options: K8sOptions, request: LaunchRequest, identity: LaunchIdentity,
                       pipes_env: Mapping[str, str], attempt: int, resume: bool) -> dict[str, Any]:
    """The Pod for one attempt, as the camelCase dict sent to the API server (and validated in tests)."""
    o = options
    if request.gpus > max(o.gpus_per_node, 0) and request.gpus:
        raise ValueError(f"LaunchRequest.gpus: {request.gpus} exceeds the node pool's gpus_per_node "
                         f"({o.gpus_per_node}): one pod runs on one node; lower the task config's gpus (train) or "
                         f"regions.{request.region}.gpus, or pick a larger pool (backend_options.node_pool)")
    plain = {**o.env, **request.env, **pipes_env, CONFIG_ENV: request.config_yaml, "WARP_CACHE_PATH": WARP_CACHE_PATH}
    if request.gpus == 0:
        plain["CUDA_VISIBLE_DEVICES"] = ""
    env: list[dict[str, Any]] = [{"name": k, "value": str(v)} for k, v in plain.items()]
    env += [{"name": name, "valueFrom": {"secretKeyRef": {"name": ref["name"], "key": ref["key"]}}}
            for name, ref in o.secret_env.items()]
    requests: dict[str, str] = {"cpu": o.cpu, "memory": o.memory}
    limits: dict[str, str] = {"memory": o.memory}
    if request.gpus:
        requests[GPU_RESOURCE] = limits[GPU_RESOURCE] = str(request.gpus)
    # The config travels in an env var and is written to a file by the entry shell: one object, nothing to clean up.
    script = (f'mkdir -p "$(dirname {CONFIG_PATH})" && printf "%s" "${CONFIG_ENV}" > {CONFIG_PATH} '
              f'&& exec {o.python} -m {o.module} "$@"')
    volumes: list[dict[str, Any]] = [
        {"name": "warp-cache", **({"persistentVolumeClaim": {"claimName": o.warp_cache_pvc}} if o.warp_cache_pvc
                                  else {"emptyDir": {}})},
        {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": o.shm_size}},
    ]
    spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "serviceAccountName": o.service_account,
        "nodeSelector": dict(o.node_selector),
        "tolerations": [{"key": t["key"], "operator": "Equal", "value": t["value"], "effect": t["effect"]}
                        for t in o.taints],
        "activeDeadlineSeconds": int(o.exec_timeout_s),
        "terminationGracePeriodSeconds": o.termination_grace_s,
        "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000},
        "containers": [{
            "name": "trainer",
            "image": o.image,
            "imagePullPolicy": "IfNotPresent",
            "command": ["sh", "-c", script, "trainer"],
            "args": [request.step, "--config", CONFIG_PATH, *resume_args(request, resume)],
            "env": env,
            "resources": {"requests": requests, "limits": limits},
            "volumeMounts": [{"name": "warp-cache", "mountPath": WARP_CACHE_PATH},
                             {"name": "dshm", "mountPath": "/dev/shm"}],
            "securityContext": {"allowPrivilegeEscalation": False},
        }],
        "volumes": volumes,
    }
    if o.priority_class:
        spec["priorityClassName"] = o.priority_class
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod_name(identity, attempt),
            "namespace": o.namespace,
            "labels": {
                "app.kubernetes.io/name": "robotics-trainer",
                "app.kubernetes.io/managed-by": "dagster",
                "azure.workload.identity/use": "true",  # the AKS webhook injects the federated token
                **identity.labels(attempt),
            },
            "annotations": {"robotics.example.com/task": request.task, "robotics.example.com/region": request.region},
        },
        "spec": spec,
    }


def check_pod_semantics(manifest: Mapping[str, Any], options: K8sOptions, gpus: int) -> None:
    """What a schema cannot say: restart policy, GPU limits, tolerations vs. the pool's taints, identity wiring."""
    spec = manifest["spec"]
    problems = []
    if spec.get("restartPolicy") != "Never":
        problems.append("restartPolicy must be Never (restarts are attempts with --resume, in a new Pipes session)")
    (container,) = spec["containers"]
    limits = container["resources"].get("limits", {})
    requests = container["resources"].get("requests", {})
    if gpus and (limits.get(GPU_RESOURCE) != str(gpus) or requests.get(GPU_RESOURCE) != str(gpus)):
        problems.append(f"{GPU_RESOURCE} requests and limits must both be {gpus}")
    if not gpus and GPU_RESOURCE in limits:
        problems.append(f"{GPU_RESOURCE} limit set on a CPU step")
    tolerated = {(t["key"], t.get("value"), t["effect"]) for t in spec.get("tolerations", [])
                 if t.get("operator", "Equal") == "Equal"}
    for taint in options.taints:
        if (taint["key"], taint["value"], taint["effect"]) not in tolerated:
            problems.append(f"no toleration for the pool's taint {taint['key']}={taint['value']}:{taint['effect']}")
    for key, value in options.node_selector.items():
        if spec.get("nodeSelector", {}).get(key) != value:
            problems.append(f"nodeSelector {key}={value} missing")
    if manifest["metadata"]["labels"].get("azure.workload.identity/use") != "true":
        problems.append("label azure.workload.identity/use=true missing")
    if spec.get("serviceAccountName") != options.service_account:
        problems.append("serviceAccountName is not the workload-identity service account")
    if not spec.get("activeDeadlineSeconds"):
        problems.append("activeDeadlineSeconds missing (a lost pod could hang the run)")
    if problems:
        raise ValueError(f"pod {manifest['metadata']['name']}: " + "; ".join(problems))


def classify_pod(pod: Mapping[str, Any] | None) -> str:
    """`running`, `succeeded`, `disruption` or `failed` for a pod's status dict (None: the pod is gone)."""
    if pod is None:
        return "disruption"  # deleted with its node (spot reclaim) or by the pod GC
    status = pod.get("status") or {}
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    if (conditions.get("DisruptionTarget") or {}).get("status") == "True":
        return "disruption"
    if status.get("reason") in DISRUPTION_REASONS:
        return "disruption"
    phase = status.get("phase")
    if phase == "Succeeded":
        return "succeeded"
    if phase == "Failed":
        return "failed"
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return "disruption"  # being deleted under us without our say-so
    return "running" if phase == "Running" else "pending"


def pod_failure_text(pod: Mapping[str, Any]) -> str:
    status = pod.get("status") or {}
    parts = [status.get("reason"), status.get("message")]
    for cs in status.get("containerStatuses") or []:
        term = (cs.get("state") or {}).get("terminated") or {}
        if term:
            parts.append(f"{cs.get('name')}: {term.get('reason')} (exit code {term.get('exitCode')})"
                         + (f": {term['message']}" if term.get("message") else ""))
    return redact("; ".join(p for p in parts if p) or "pod failed")  # may quote the container's last output


class K8sBackend:
    name = "k8s"
    _sleep = staticmethod(time.sleep)

    def __init__(self, options: K8sOptions, core_api: Any = None):
        check_plain_env(options.env, "backend_options.env")
        self.options = options
        self._core_api = core_api

    @classmethod
    def from_settings(cls, settings: Settings, region: str) -> K8sBackend:
        outputs = settings.region_outputs[region]
        opts = dict(settings.region(region).backend_options)
        opts["pipes_options"] = {**blob_pipes_defaults(outputs), **opts.get("pipes_options", {})}
        opts["env"] = {**kernel_cache_env(settings, region), **opts.get("env", {})}
        return cls(K8sOptions.from_region(region, outputs, opts))

    @property
    def core_api(self) -> Any:
        if self._core_api is None:  # kubeconfig / in-cluster config read at run time, never at import
            import kubernetes
            from dagster_k8s.client import DagsterKubernetesClient

            try:
                kubernetes.config.load_incluster_config()
            except kubernetes.config.ConfigException:
                kubernetes.config.load_kube_config()
            self._core_api = DagsterKubernetesClient.production_client().core_api
        return self._core_api

    def manifest(self, request: LaunchRequest, identity: LaunchIdentity, pipes_env: Mapping[str, str],
                 attempt: int, resume: bool) -> dict[str, Any]:
        manifest = build_pod_manifest(self.options, request, identity, pipes_env, attempt, resume)
        check_pod_semantics(manifest, self.options, request.gpus)
        return manifest

    def launch(self, context: dg.AssetExecutionContext, request: LaunchRequest, *,
               extras: Mapping[str, Any] | None = None) -> dg.PipesClientCompletedInvocation:
        check_plain_env(request.env, "LaunchRequest.env")
        identity = launch_identity(context, request)
        resume = self._take_over_or_refuse(context, identity)
        attempts: list[dict[str, str]] = []
        for attempt in range(1, self.options.restart_budget + 2):
            injector, reader = self._pipes()
            with dg.open_pipes_session(context=context, context_injector=injector, message_reader=reader,
                                       extras={"task": request.task, "region": request.region,
                                               "run_key": request.run_key, **(extras or {})}) as session:
                manifest = self.manifest(request, identity, session.get_bootstrap_env_vars(), attempt,
                                         resume or attempt > 1)
                name = manifest["metadata"]["name"]
                self.core_api.create_namespaced_pod(self.options.namespace, manifest)
                context.log.info(f"[k8s] attempt {attempt}: created pod {self.options.namespace}/{name}")
                outcome, pod = self._run_attempt(context, reader, name, identity)
                attempts.append({"pod": name, "outcome": outcome})
                if outcome == "succeeded":
                    return dg.PipesClientCompletedInvocation(session, metadata={
                        "k8s_pod": name, "k8s_namespace": self.options.namespace,
                        "k8s_attempts": dg.MetadataValue.json(attempts),
                    })
                if outcome == "failed":
                    raise dg.Failure(description=f"pod {name} failed: {pod_failure_text(pod or {})}",
                                     metadata={"k8s_attempts": dg.MetadataValue.json(attempts)})
                context.log.warning(f"[k8s] pod {name} was disrupted ({pod_failure_text(pod or {})}); "
                                    f"restarts left: {self.options.restart_budget - attempt + 1}")
        raise dg.Failure(description=f"k8s restart budget exhausted: {len(attempts)} attempts, all disrupted",
                         metadata={"k8s_attempts": dg.MetadataValue.json(attempts)})

    def _pipes(self) -> tuple[dg.PipesContextInjector, dg.PipesMessageReader]:
        if self.options.pipes == "pod-logs":
            from dagster_k8s.pipes import PipesK8sPodLogsMessageReader

            return dg.PipesEnvContextInjector(), PipesK8sPodLogsMessageReader()
        return pipes_transport(self.options.pipes, self.options.pipes_options)

    def _read(self, name: str) -> dict[str, Any] | None:
        import kubernetes

        try:
            pod = self.core_api.read_namespaced_pod(name, self.options.namespace)
        except kubernetes.client.ApiException as e:
            if e.status == 404:
                return None
            raise
        return pod if isinstance(pod, dict) else self.core_api.api_client.sanitize_for_serialization(pod)

    def _run_attempt(self, context: dg.AssetExecutionContext, reader: Any, name: str,
                     identity: LaunchIdentity) -> tuple[str, dict[str, Any] | None]:
        from dagster._core.errors import DagsterExecutionInterruptedError

        o = self.options
        started = time.monotonic()
        logs = None
        try:
            self._refuse_if_twin(identity, name)
            while True:
                pod = self._read(name)
                outcome = classify_pod(pod)
                if outcome == "running" and logs is None and hasattr(reader, "async_consume_pod_logs"):
                    logs = reader.async_consume_pod_logs(context=context, core_api=self.core_api,
                                                        pod_name=name, namespace=o.namespace)
                    logs.__enter__()
                if outcome in ("succeeded", "failed", "disruption"):
                    if logs is None and pod is not None and hasattr(reader, "consume_pod_logs"):
                        # finished between two polls: read its whole log (Pipes messages) before it is deleted
                        reader.consume_pod_logs(context=context, core_api=self.core_api, pod_name=name,
                                                namespace=o.namespace)
                    return outcome, pod
                if outcome == "pending" and time.monotonic() - started > o.startup_timeout_s:
                    raise dg.Failure(description=f"pod {name} stayed Pending for {o.startup_timeout_s:.0f}s (no GPU "
                                                 "node scaled up?); deleted. Raise backend_options.startup_timeout_s.")
                self._sleep(o.poll_interval_s)
        except (DagsterExecutionInterruptedError, KeyboardInterrupt):
            context.log.info(f"[k8s] run terminated: deleting pod {name}")
            self._delete(name)
            raise
        except BaseException:
            self._delete(name)
            raise
        finally:
            if logs is not None:
                logs.__exit__(None, None, None)
            if o.delete_pods:
                self._delete(name)

    def _delete(self, name: str) -> None:
        import kubernetes

        try:
            self.core_api.delete_namespaced_pod(name, self.options.namespace,
                                                grace_period_seconds=self.options.termination_grace_s)
        except kubernetes.client.ApiException as e:
            if e.status != 404:
                raise

    def _live_owned(self, identity: LaunchIdentity) -> list[dict[str, Any]]:
        selector = ",".join(f"{k}={v}" for k, v in identity.owner_labels().items())
        pods = self.core_api.list_namespaced_pod(self.options.namespace, label_selector=selector)
        items = pods.get("items", []) if isinstance(pods, dict) else [
            self.core_api.api_client.sanitize_for_serialization(p) for p in pods.items]
        return [p for p in items if classify_pod(p) in ("pending", "running")]

    def _refuse_if_twin(self, identity: LaunchIdentity, name: str) -> None:
        """After creating: of two runs that raced for one partition, the later-created pod withdraws."""
        live = self._live_owned(identity)
        ours = next((p for p in live if p["metadata"]["name"] == name), None)
        if ours is None:
            return
        def created(p: dict[str, Any]) -> tuple[str, str]:
            return str(p["metadata"].get("creationTimestamp") or ""), p["metadata"]["name"]
        for rival in live:
            owner = rival["metadata"]["labels"].get(LABEL_RUN)
            if owner != identity.run_id and created(rival) < created(ours):
                raise dg.Failure(description=f"{identity.asset} partition {identity.partition} was launched "
                                             f"concurrently by Dagster run {owner} (pod {rival['metadata']['name']});"
                                             f" this launch withdrew pod {name} so the partition trains once.")

    def _take_over_or_refuse(self, context: dg.AssetExecutionContext, identity: LaunchIdentity) -> bool:
        resume = False
        for pod in self._live_owned(identity):
            name, owner = pod["metadata"]["name"], pod["metadata"]["labels"].get(LABEL_RUN)
            if owner != identity.run_id:
                raise dg.Failure(description=f"{identity.asset} partition {identity.partition} is already running "
                                             f"{identity.step} in pod {name} (Dagster run {owner}); not starting a "
                                             "second one.")
            context.log.warning(f"[k8s] deleting pod {name} left by an earlier try of this run; resuming")
            self._delete(name)
            resume = True
        return resume
