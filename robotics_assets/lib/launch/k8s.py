"""`k8s` backend: the trainer step as a bare Pod on the region's AKS GPU node pool, with restart-and-resume.

Built from dagster-k8s pieces around the shared attempt loop of `remote.RemoteBackend`: its Pipes env context
injector and pod-log message reader, `build_pod_body`'s defaults, `k8s_api_retry` (transient API answers, 5xx and
401, are retried as dagster-k8s retries them) and `get_pod_debug_info` (status, last log lines, warning events) for
failure texts. `PipesK8sClient.run` / `wait_for_pod` are not used as a whole: `wait_for_pod` keeps waiting on a
CreateContainerConfigError and calls a pod that vanished with its node "unexpectedly killed" (an error), where this
backend must fail the first at once and resume after the second. Each attempt is its own pod
(`restartPolicy: Never`), polled until it succeeds, fails (the trainer's exit code, or a container that cannot start:
ErrImagePull, ImagePullBackOff, CreateContainerConfigError, RunContainerError fail at once with the reason), or is
disrupted (the `DisruptionTarget` condition, an eviction reason, or the pod vanishing with its node). Pods are
hardened (read-only root filesystem with emptyDir scratch, all capabilities dropped, RuntimeDefault seccomp, no
service-account token, CPU/memory/ephemeral-storage limits, image by digest), and `check_pod_semantics` refuses a
manifest that lacks any of it. Every manifest comes from the region settings (Terraform outputs) only.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

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
from robotics_assets.lib.secrets import redact
from robotics_assets.lib.terraform_outputs import training_domain_for

if TYPE_CHECKING:
    from robotics_assets.lib.settings import Settings

T = TypeVar("T")
CONFIG_PATH = "/tmp/robotics/task.yaml"
CONFIG_ENV = "ROBOTICS_TASK_CONFIG"
WARP_CACHE_PATH = "/var/cache/warp"
SCRATCH_PATH = "/tmp"  # the only writable place besides the Warp cache: an emptyDir that dies with the pod
GPU_RESOURCE = "nvidia.com/gpu"
# Pod status reasons that mean the node or the scheduler took the pod away, not our code.
DISRUPTION_REASONS = frozenset({"Evicted", "NodeLost", "NodeShutdown", "Shutdown", "Terminated", "Preempting",
                                "DeletionByTaintManager", "DeletionByPodGC", "UnexpectedAdmissionError"})
# Waiting reasons of a container that will not start by waiting longer: the attempt fails at once with the reason.
START_FAILURES = frozenset({"ErrImagePull", "ImagePullBackOff", "CreateContainerConfigError", "RunContainerError",
                            "CreateContainerError", "InvalidImageName"})
# Kubernetes versions the manifests are validated against (AKS-supported minors as of 2026-11).
SUPPORTED_K8S_VERSIONS = ("1.32.0", "1.33.0", "1.34.0", "1.35.0")
_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


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
    cpu: str = "8"  # request and limit
    memory: str = "64Gi"
    ephemeral_storage: str = "20Gi"  # request and limit: scratch + logs; the kubelet evicts a pod that writes more
    scratch_size: str = "10Gi"  # emptyDir at /tmp (cwd, HOME, TMPDIR of the trainer)
    shm_size: str = "16Gi"
    secret_env: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # ENV -> {name, key}
    env: Mapping[str, str] = field(default_factory=dict)
    warp_cache_pvc: str | None = None  # a PersistentVolumeClaim keeps compiled Warp kernels across pods
    restart_budget: int = 3
    exec_timeout_s: float = 24 * 3600  # activeDeadlineSeconds: bounds a multi-hour run, never hangs forever
    startup_timeout_s: float = 30 * 60  # Pending this long (no GPU node scaled up): give up
    poll_interval_s: float = 10.0
    termination_grace_s: int = 120  # the trainer saves a checkpoint on SIGTERM
    api_retries: int = 4  # transient API answers (5xx, 401) retried like dagster-k8s' k8s_api_retry
    api_retry_wait_s: float = 2.0
    delete_pods: bool = True  # cleanup policy: finished pods are deleted (logs are in Dagster already)
    priority_class: str | None = None
    pipes: str = "pod-logs"
    pipes_options: Mapping[str, Any] = field(default_factory=dict)
    python: str = "python"
    module: str = "trainer"
    training_domains: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # aks.training_domains

    def service_account_for(self, task: str) -> str:
        """The service account a task's pods run as: its training domain's (infra_tf grants each domain's identity
        writes under its own tasks' blob prefixes only), or the region's training account where Terraform defines
        no domains (an older regions file)."""
        if not self.training_domains:
            return self.service_account
        domain = training_domain_for({"training_domains": self.training_domains}, task)
        if domain is None:
            raise ValueError(f"task {task}: no training domain of this region covers it (aks.training_domains: "
                             f"{', '.join(sorted(self.training_domains))}); add the task or a pattern to a domain "
                             "in the region's Terraform settings (docs/infra.md, \"Who may do what\")")
        return self.training_domains[domain]["service_account"]

    @classmethod
    def from_region(cls, region: str, outputs: Mapping[str, Any], options: Mapping[str, Any]) -> K8sOptions:
        opts = dict(options)
        check_option_keys(cls, opts, f"region {region}: backend_options", extra=("node_pool", "image_digest"),
                          derived=("namespace", "service_account", "identity_client_id", "node_selector", "taints",
                                   "gpus_per_node", "training_domains"))
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
        digest = opts.pop("image_digest", None)
        if digest:
            if not re.fullmatch(r"sha256:[0-9a-f]{64}", str(digest)):
                raise ValueError(f"{where}: backend_options.image_digest: {digest!r} is not a digest "
                                 "(sha256:<64 hex>, e.g. from `az acr repository show-manifests`)")
            image = f"{image.split('@')[0]}@{digest}"
        if not _DIGEST.search(image):
            raise ValueError(f"{where}: the trainer image {image} is not pinned by digest: a tag can be moved under "
                             "running pods. Set backend_options.image_digest: sha256:... (the pushed image's "
                             "digest) or a trainer_image ending in @sha256:...")
        return cls(namespace=aks["namespace"], image=image, service_account=aks["training_service_account"],
                   identity_client_id=aks["training_identity_client_id"],
                   node_selector=dict(pool.get("node_selector") or {}), taints=list(pool.get("taints") or []),
                   gpus_per_node=int(pool.get("gpus_per_node") or 0),
                   training_domains=dict(aks.get("training_domains") or {}), **opts)


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
    plain = {**o.env, **request.env, **pipes_env, CONFIG_ENV: request.config_yaml, "WARP_CACHE_PATH": WARP_CACHE_PATH,
             # the root filesystem is read-only: everything the process writes goes to the scratch emptyDir
             "HOME": f"{SCRATCH_PATH}/home", "TMPDIR": SCRATCH_PATH, "ROBOTICS_DATA_DIR": f"{SCRATCH_PATH}/data"}
    if request.gpus == 0:
        plain["CUDA_VISIBLE_DEVICES"] = ""
    env: list[dict[str, Any]] = [{"name": k, "value": str(v)} for k, v in plain.items()]
    env += [{"name": name, "valueFrom": {"secretKeyRef": {"name": ref["name"], "key": ref["key"]}}}
            for name, ref in o.secret_env.items()]
    requests: dict[str, str] = {"cpu": o.cpu, "memory": o.memory, "ephemeral-storage": o.ephemeral_storage}
    limits: dict[str, str] = {"cpu": o.cpu, "memory": o.memory, "ephemeral-storage": o.ephemeral_storage}
    if request.gpus:
        requests[GPU_RESOURCE] = limits[GPU_RESOURCE] = str(request.gpus)
    # The config travels in an env var and is written to a file by the entry shell: one object, nothing to clean up.
    script = (f'mkdir -p "$(dirname {CONFIG_PATH})" "$HOME" && printf "%s" "${CONFIG_ENV}" > {CONFIG_PATH} '
              f'&& cd "$TMPDIR" && exec {o.python} -m {o.module} "$@"')
    volumes: list[dict[str, Any]] = [
        {"name": "scratch", "emptyDir": {"sizeLimit": o.scratch_size}},
        {"name": "warp-cache", **({"persistentVolumeClaim": {"claimName": o.warp_cache_pvc}} if o.warp_cache_pvc
                                  else {"emptyDir": {}})},
        {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": o.shm_size}},
    ]
    body = build_pod_body(
        pod_name=pod_name(identity, attempt),
        image=o.image,
        command=["sh", "-c", script, "trainer"],
        env_vars={},
        base_pod_meta={
            "namespace": o.namespace,
            "labels": {
                "app.kubernetes.io/name": "robotics-trainer",
                "azure.workload.identity/use": "true",  # the AKS webhook projects the federated token itself
                **identity.labels(attempt),
            },
            "annotations": {"robotics.example.com/task": request.task,
                            "robotics.example.com/region": request.region},
        },
        base_pod_spec={
            "restartPolicy": "Never",
            "serviceAccountName": o.service_account_for(request.task),
            "automountServiceAccountToken": False,  # the trainer talks to no Kubernetes API
            "nodeSelector": dict(o.node_selector),
            "tolerations": [{"key": t["key"], "operator": "Equal", "value": t["value"], "effect": t["effect"]}
                            for t in o.taints],
            "activeDeadlineSeconds": int(o.exec_timeout_s),
            "terminationGracePeriodSeconds": o.termination_grace_s,
            "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{
                "name": "trainer",
                "imagePullPolicy": "IfNotPresent",
                "args": [request.step, "--config", CONFIG_PATH, *resume_args(request, resume)],
                "env": env,
                "resources": {"requests": requests, "limits": limits},
                "volumeMounts": [{"name": "scratch", "mountPath": SCRATCH_PATH},
                                 {"name": "warp-cache", "mountPath": WARP_CACHE_PATH},
                                 {"name": "dshm", "mountPath": "/dev/shm"}],
                "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                    "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}},
            }],
            "volumes": volumes,
            **({"priorityClassName": o.priority_class} if o.priority_class else {}),
        },
    )
    manifest = _api_client().sanitize_for_serialization(body)
    return {"apiVersion": "v1", "kind": "Pod", **manifest}


def build_pod_body(**kwargs: Any) -> Any:
    """dagster-k8s' own pod builder (restart policy default, container name, labels it sets on every pod)."""
    from dagster_k8s.pipes import build_pod_body as _build

    return _build(**kwargs)


def _api_client() -> Any:
    import kubernetes

    return kubernetes.client.ApiClient()


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
    task = manifest["metadata"].get("annotations", {}).get("robotics.example.com/task", "")
    if spec.get("serviceAccountName") != options.service_account_for(task):
        problems.append(f"serviceAccountName is not the service account of task {task!r}'s training domain")
    if not spec.get("activeDeadlineSeconds"):
        problems.append("activeDeadlineSeconds missing (a lost pod could hang the run)")
    problems += _hardening_problems(spec, container)
    if problems:
        raise ValueError(f"pod {manifest['metadata']['name']}: " + "; ".join(problems))


def _hardening_problems(spec: Mapping[str, Any], container: Mapping[str, Any]) -> list[str]:
    """Least reach for a pod that runs code from a shared task-config location (issue 15)."""
    problems = []
    pod_sc = spec.get("securityContext") or {}
    sc = container.get("securityContext") or {}
    if spec.get("automountServiceAccountToken") is not False:
        problems.append("automountServiceAccountToken must be false (the trainer needs no Kubernetes API token)")
    if (pod_sc.get("seccompProfile") or sc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
        problems.append("seccompProfile must be RuntimeDefault")
    if not (pod_sc.get("runAsNonRoot") or sc.get("runAsNonRoot")):
        problems.append("runAsNonRoot must be true")
    if sc.get("readOnlyRootFilesystem") is not True:
        problems.append("readOnlyRootFilesystem must be true (scratch goes to an emptyDir)")
    if sc.get("allowPrivilegeEscalation") is not False:
        problems.append("allowPrivilegeEscalation must be false")
    if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []) or (sc.get("capabilities") or {}).get("add"):
        problems.append("capabilities must drop ALL and add none")
    volumes = {v["name"]: v for v in spec.get("volumes") or []}
    scratch = [m for m in container.get("volumeMounts") or [] if m.get("mountPath") == SCRATCH_PATH]
    if not scratch or "emptyDir" not in volumes.get(scratch[0]["name"], {}):
        problems.append(f"no emptyDir mounted at {SCRATCH_PATH} (the scratch of a read-only root filesystem)")
    limits = (container.get("resources") or {}).get("limits") or {}
    for resource in ("cpu", "memory", "ephemeral-storage"):
        if resource not in limits:
            problems.append(f"no {resource} limit")
    if not _DIGEST.search(str(container.get("image", ""))):
        problems.append(f"image {container.get('image')} is not pinned by digest (@sha256:...)")
    return problems


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
    if start_failure(pod):
        return "failed"  # the container cannot start: waiting longer (or a new pod) would not help
    if phase == "Succeeded":
        return "succeeded"
    if phase == "Failed":
        return "failed"
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return "disruption"  # being deleted under us without our say-so
    return "running" if phase == "Running" else "pending"


def start_failure(pod: Mapping[str, Any]) -> str | None:
    """`Reason: message` of a container that cannot start (ErrImagePull, CreateContainerConfigError, ...)."""
    status = pod.get("status") or {}
    for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        waiting = (cs.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in START_FAILURES:
            return f"{waiting['reason']}: {waiting.get('message') or ''}".rstrip(": ")
    return None


def pod_failure_text(pod: Mapping[str, Any]) -> str:
    status = pod.get("status") or {}
    parts = [start_failure(pod), status.get("reason"), status.get("message")]
    for cs in status.get("containerStatuses") or []:
        term = (cs.get("state") or {}).get("terminated") or {}
        if term:
            parts.append(f"{cs.get('name')}: {term.get('reason')} (exit code {term.get('exitCode')})"
                         + (f": {term['message']}" if term.get("message") else ""))
    return redact("; ".join(p for p in parts if p) or "pod failed")  # may quote the container's last output


class K8sBackend(RemoteBackend):
    name = "k8s"
    noun = "pod"

    def __init__(self, options: K8sOptions, core_api: Any = None):
        check_plain_env(options.env, "backend_options.env")
        self.options = options
        self._core_api = core_api
        self._log_streams: dict[str, Any] = {}  # pod -> the entered async_consume_pod_logs context

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

    # -- what the loop asks of a backend -----------------------------------------------------------------------
    def pipes(self) -> tuple[dg.PipesContextInjector, dg.PipesMessageReader]:
        if self.options.pipes == "pod-logs":
            from dagster_k8s.pipes import PipesK8sPodLogsMessageReader

            return dg.PipesEnvContextInjector(), PipesK8sPodLogsMessageReader()
        if self.options.pipes != "blob":
            raise ValueError(f"backend_options.pipes: {self.options.pipes!r} is not a Pipes transport for pods "
                             "(allowed: pod-logs, blob)")
        return pipes_transport(self.options.pipes, self.options.pipes_options)

    def submit(self, context: dg.AssetExecutionContext, request: LaunchRequest, identity: LaunchIdentity,
               pipes_env: Mapping[str, str], attempt: int, resume: bool) -> str:
        from dagster_k8s.client import k8s_api_retry_creation_mutation

        manifest = self.manifest(request, identity, pipes_env, attempt, resume)
        name = manifest["metadata"]["name"]
        k8s_api_retry_creation_mutation(
            lambda: self.core_api.create_namespaced_pod(self.options.namespace, manifest),
            max_retries=self.options.api_retries, timeout=self.options.api_retry_wait_s,
            msg_fn=lambda: f"creating pod {self.options.namespace}/{name} failed")
        return name

    def poll(self, context: dg.AssetExecutionContext, name: str, reader: dg.PipesMessageReader) -> AttemptState:
        pod = self._read(name)
        outcome = classify_pod(pod)
        if outcome == "running" and name not in self._log_streams and hasattr(reader, "async_consume_pod_logs"):
            logs = reader.async_consume_pod_logs(context=context, core_api=_RedactingLogs(self.core_api),
                                                 pod_name=name, namespace=self.options.namespace)
            logs.__enter__()
            self._log_streams[name] = logs
        if outcome not in ("succeeded", "failed", "disruption"):
            return AttemptState(outcome)
        if name not in self._log_streams and pod is not None and hasattr(reader, "consume_pod_logs") \
                and not start_failure(pod):
            # finished between two polls: read its whole log (Pipes messages) before it is deleted
            reader.consume_pod_logs(context=context, core_api=_RedactingLogs(self.core_api), pod_name=name,
                                    namespace=self.options.namespace)
        text = pod_failure_text(pod or {}) if pod is not None else "the pod vanished (node lost or pod GC)"
        if outcome == "failed":
            text = f"pod {name} failed: {text}\n{self._debug_info(name)}"
        return AttemptState(outcome, text, {"pod": name})

    def cancel(self, context: dg.AssetExecutionContext, name: str, reason: str) -> None:
        self._delete(name)

    def list_owned(self, identity: LaunchIdentity) -> list[Owned]:
        selector = ",".join(f"{k}={v}" for k, v in identity.owner_labels().items())
        pods = self._api(lambda: self.core_api.list_namespaced_pod(self.options.namespace, label_selector=selector),
                         "listing pods")
        items = [_as_dict(self.core_api, p) for p in (pods.get("items", []) if isinstance(pods, dict) else pods.items)]
        return [Owned(p["metadata"]["name"], (p["metadata"].get("labels") or {}).get(LABEL_RUN),
                      str(p["metadata"].get("creationTimestamp") or ""))
                for p in items if classify_pod(p) in ("pending", "running")]

    # -- optional hooks ----------------------------------------------------------------------------------------
    def startup_failure(self, name: str) -> str:
        return (f"pod {name} stayed Pending for {self.options.startup_timeout_s:g}s (no GPU node scaled up?); "
                f"deleted. Raise backend_options.startup_timeout_s.\n{self._debug_info(name)}")

    def end_attempt(self, context: dg.AssetExecutionContext, name: str, reader: dg.PipesMessageReader) -> None:
        logs = self._log_streams.pop(name, None)
        if logs is not None:
            logs.__exit__(None, None, None)
        if self.options.delete_pods:
            self._delete(name)

    def success_metadata(self, name: str, attempts: list[dict[str, Any]]) -> dict[str, Any]:
        return {"k8s_pod": name, "k8s_namespace": self.options.namespace,
                "k8s_attempts": dg.MetadataValue.json(attempts)}

    # -- API plumbing ------------------------------------------------------------------------------------------
    def _api(self, fn: Callable[[], T], what: str) -> T:
        """One API call, transient answers retried as dagster-k8s retries them."""
        from dagster_k8s.client import k8s_api_retry

        return k8s_api_retry(fn, max_retries=self.options.api_retries, timeout=self.options.api_retry_wait_s,
                             msg_fn=lambda: f"Kubernetes API: {what} failed")

    def _read(self, name: str) -> dict[str, Any] | None:
        from dagster_k8s.client import DagsterK8sUnrecoverableAPIError

        try:
            pod = self._api(lambda: self.core_api.read_namespaced_pod(name, self.options.namespace),
                            f"reading pod {name}")
        except DagsterK8sUnrecoverableAPIError as e:
            if getattr(e.k8s_api_exception, "status", None) == 404:
                return None
            raise
        return _as_dict(self.core_api, pod)

    def _delete(self, name: str) -> None:
        from dagster_k8s.client import DagsterK8sUnrecoverableAPIError

        try:
            self._api(lambda: self.core_api.delete_namespaced_pod(
                name, self.options.namespace, grace_period_seconds=self.options.termination_grace_s),
                f"deleting pod {name}")
        except DagsterK8sUnrecoverableAPIError as e:
            if getattr(e.k8s_api_exception, "status", None) != 404:
                raise

    def _debug_info(self, name: str) -> str:
        """dagster-k8s' pod debug text (status, last log lines, warning events), masked: it quotes the container."""
        from dagster_k8s.client import DagsterKubernetesClient

        client = DagsterKubernetesClient(batch_api=None, core_api=self.core_api, logger=logging.getLogger(__name__).debug,
                                         sleeper=time.sleep, timer=time.monotonic)
        try:
            return redact(client.get_pod_debug_info(name, self.options.namespace))
        except Exception as e:  # noqa: BLE001 - debug text is a courtesy; the failure itself is already known
            return f"(no debug information: {type(e).__name__})"


def _as_dict(core_api: Any, pod: Any) -> dict[str, Any]:
    if isinstance(pod, dict):
        return pod
    return core_api.api_client.sanitize_for_serialization(pod)


class _RedactingLogs:
    """The CoreV1Api as the pod-log Pipes reader sees it: every log line masked before dagster-k8s forwards it.

    `PipesK8sPodLogsMessageReader` writes each non-Pipes line to the step's stdout (the compute log) as it is;
    a credential a task printed would land there. Lines are masked whole (a chunk may split a line).
    """

    def __init__(self, core_api: Any):
        self._core_api = core_api

    def __getattr__(self, name: str) -> Any:
        return getattr(self._core_api, name)

    def read_namespaced_pod_log(self, *args: Any, **kwargs: Any) -> Any:
        return _RedactedStream(self._core_api.read_namespaced_pod_log(*args, **kwargs))


class _RedactedStream:
    def __init__(self, response: Any):
        self._response = response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._response, name)

    @property
    def data(self) -> bytes:
        return redact(self._response.data.decode("utf-8", errors="replace")).encode()

    def __iter__(self) -> Any:  # consume_pod_logs iterates the response itself
        return self._lines(iter(self._response))

    def stream(self, *args: Any, **kwargs: Any) -> Any:
        return self._lines(self._response.stream(*args, **kwargs))

    @staticmethod
    def _lines(chunks: Any) -> Any:
        pending = b""
        for chunk in chunks:
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                yield redact(line.decode("utf-8", errors="replace")).encode() + b"\n"
        if pending:
            yield redact(pending.decode("utf-8", errors="replace")).encode()
