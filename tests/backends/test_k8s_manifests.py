"""Pod manifests of the k8s backend: schema-valid (kubernetes-validate, strict) on every supported AKS version,
and semantically right for the region's GPU node pool (what a schema cannot check)."""

from __future__ import annotations

import json
from pathlib import Path

import kubernetes_validate
import pytest

from robotics_assets.lib.launch.base import LaunchRequest
from robotics_assets.lib.launch.k8s import (
    CONFIG_ENV,
    SUPPORTED_K8S_VERSIONS,
    K8sBackend,
    K8sOptions,
    build_pod_manifest,
    check_pod_semantics,
    classify_pod,
    pod_failure_text,
)
from robotics_assets.lib.launch.remote import LaunchIdentity

ROOT = Path(__file__).resolve().parents[2]
REGIONS = json.loads((ROOT / "infra_tf/examples/regions.sample.json").read_text())
IDENTITY = LaunchIdentity(run_id="0f8c2a4e-1111-2222-3333-444455556666", asset="policy",
                          partition="eastus-cartpole-3c9d0e1f2a", step="train", run_key="abcdef0123456789")


DIGEST = "sha256:" + "ab" * 32


def _options(region="eastus", **over) -> K8sOptions:
    return K8sOptions.from_region(region, REGIONS[region], {
        "secret_env": {"AZURE_STORAGE_CONNECTION_STRING": {"name": "robotics-storage", "key": "connection-string"}},
        "image_digest": DIGEST, **over})


def _request(step="train", gpus=1, args=("--run-dir", "https://st.blob.core.windows.net/checkpoints/cartpole/r1")):
    return LaunchRequest(task="cartpole", region="eastus", step=step, config_yaml="task: cartpole\nseed: 1\n",
                         args=list(args), gpus=gpus)


CASES = {
    "train-gpu": {"request": _request(), "attempt": 1, "resume": False},
    "train-resumed": {"request": _request(), "attempt": 2, "resume": True},
    "evaluate-cpu": {"request": _request("evaluate", gpus=0, args=("--run-dir", "r", "--out", "o")), "attempt": 1,
                         "resume": False},
    "train-pvc-priority": {"request": _request(), "attempt": 1, "resume": False,
                               "options": {"warp_cache_pvc": "warp-cache", "priority_class": "robotics-training"}},
}


@pytest.mark.parametrize("version", SUPPORTED_K8S_VERSIONS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_manifest_is_schema_valid_strict(case, version):
    c = CASES[case]
    manifest = build_pod_manifest(_options(**c.get("options", {})), c["request"], IDENTITY,
                                  {"DAGSTER_PIPES_CONTEXT": "e30=", "DAGSTER_PIPES_MESSAGES": "e30="},
                                  c["attempt"], c["resume"])
    kubernetes_validate.validate(manifest, version, strict=True)


def test_strict_validation_really_rejects_mistakes():
    manifest = build_pod_manifest(_options(), _request(), IDENTITY, {}, 1, False)
    manifest["spec"]["containers"][0]["gpuLimit"] = 1  # an unknown field
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(manifest, SUPPORTED_K8S_VERSIONS[-1], strict=True)


@pytest.mark.parametrize("region", sorted(REGIONS))
def test_manifest_semantics_follow_the_region(region):
    options = _options(region)
    manifest = build_pod_manifest(options, _request(), IDENTITY, {}, 1, False)
    check_pod_semantics(manifest, options, gpus=1)
    spec = manifest["spec"]
    (c,) = spec["containers"]
    outputs = REGIONS[region]
    pool = next(iter(outputs["gpu_node_pools"].values()))
    assert c["image"] == f"{outputs['container_registry']['trainer_image']}@{DIGEST}"
    assert spec["restartPolicy"] == "Never"
    assert c["resources"]["limits"]["nvidia.com/gpu"] == "1" == c["resources"]["requests"]["nvidia.com/gpu"]
    assert spec["nodeSelector"] == pool["node_selector"]
    assert {(t["key"], t["value"], t["effect"]) for t in spec["tolerations"]} == {
        (t["key"], t["value"], t["effect"]) for t in pool["taints"]}
    assert ("kubernetes.azure.com/scalesetpriority", "spot", "NoSchedule") in {
        (t["key"], t["value"], t["effect"]) for t in spec["tolerations"]}, "spot pools need the spot toleration"
    assert spec["serviceAccountName"] == outputs["aks"]["training_service_account"]
    assert manifest["metadata"]["namespace"] == outputs["aks"]["namespace"]
    assert manifest["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    assert spec["securityContext"]["runAsNonRoot"] is True
    env = {e["name"]: e for e in c["env"]}
    assert env["AZURE_STORAGE_CONNECTION_STRING"]["valueFrom"]["secretKeyRef"] == {
        "name": "robotics-storage", "key": "connection-string"}
    assert "value" not in env["AZURE_STORAGE_CONNECTION_STRING"], "secrets by reference only"
    assert env[CONFIG_ENV]["value"] == "task: cartpole\nseed: 1\n"
    assert spec["activeDeadlineSeconds"] >= 6 * 3600, "multi-hour runs must fit the deadline"


def test_resume_and_cpu_steps():
    options = _options()
    resumed = build_pod_manifest(options, _request(args=("--run-dir", "d", "--warm-start", "old.pt")), IDENTITY,
                                 {}, 2, True)
    args = resumed["spec"]["containers"][0]["args"]
    assert args[:3] == ["train", "--config", "/tmp/robotics/task.yaml"] and args[-1] == "--resume"
    assert "--warm-start" not in args, "a resumed attempt continues its own checkpoints"
    assert resumed["metadata"]["labels"]["robotics-attempt"] == "2"
    assert resumed["metadata"]["name"] != build_pod_manifest(options, _request(), IDENTITY, {}, 1, False)[
        "metadata"]["name"]
    cpu = build_pod_manifest(options, _request("evaluate", gpus=0, args=()), IDENTITY, {}, 1, False)
    check_pod_semantics(cpu, options, gpus=0)
    assert "nvidia.com/gpu" not in cpu["spec"]["containers"][0]["resources"]["limits"]


def test_semantic_check_catches_what_the_schema_allows():
    options = _options()
    manifest = build_pod_manifest(options, _request(), IDENTITY, {}, 1, False)
    manifest["spec"]["restartPolicy"] = "OnFailure"
    manifest["spec"]["tolerations"] = manifest["spec"]["tolerations"][:1]
    del manifest["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"]
    kubernetes_validate.validate(manifest, SUPPORTED_K8S_VERSIONS[0], strict=True)  # still schema-valid
    with pytest.raises(ValueError) as e:
        check_pod_semantics(manifest, options, gpus=1)
    for problem in ("restartPolicy must be Never", "nvidia.com/gpu requests and limits",
                    "scalesetpriority=spot:NoSchedule"):
        assert problem in str(e.value)


def test_bad_region_settings_are_named():
    with pytest.raises(ValueError, match="backend_options.node_pool: 'cpu' is not a GPU node pool"):
        _options(node_pool="cpu")
    broken = {**REGIONS["eastus"], "container_registry": {"login_server": "x", "trainer_image": None}}
    with pytest.raises(ValueError, match="container_registry.trainer_image"):
        K8sOptions.from_region("eastus", broken, {})
    with pytest.raises(ValueError, match="not pinned by digest.*backend_options.image_digest"):
        K8sOptions.from_region("eastus", REGIONS["eastus"], {})
    with pytest.raises(ValueError, match="backend_options.image_digest: 'latest' is not a digest"):
        K8sOptions.from_region("eastus", REGIONS["eastus"], {"image_digest": "latest"})
    with pytest.raises(ValueError, match="exceeds the node pool's gpus_per_node"):
        build_pod_manifest(_options(), _request(gpus=4), IDENTITY, {}, 1, False)
    with pytest.raises(ValueError, match="looks like a secret"):
        K8sBackend(_options(env={"MLFLOW_TRACKING_TOKEN": "x"}))


@pytest.mark.parametrize(("status", "expected"), [
    ({"phase": "Running"}, "running"),
    ({"phase": "Pending"}, "pending"),
    ({"phase": "Succeeded"}, "succeeded"),
    ({"phase": "Failed", "containerStatuses": [{"name": "trainer", "state": {"terminated": {
        "exitCode": 1, "reason": "Error"}}}]}, "failed"),
    ({"phase": "Failed", "reason": "Evicted", "message": "The node was low on resource: memory."}, "disruption"),
    ({"phase": "Failed", "reason": "NodeShutdown"}, "disruption"),
    ({"phase": "Running", "conditions": [{"type": "DisruptionTarget", "status": "True",
                                          "reason": "DeletionByTaintManager"}]}, "disruption"),
])
def test_pod_outcomes(status, expected):
    assert classify_pod({"metadata": {"name": "p"}, "status": status}) == expected


def test_vanished_pod_is_a_disruption_and_failures_are_explained():
    assert classify_pod(None) == "disruption"
    text = pod_failure_text({"status": {"phase": "Failed", "containerStatuses": [
        {"name": "trainer", "state": {"terminated": {"exitCode": 2, "reason": "Error"}}}]}})
    assert "trainer: Error (exit code 2)" in text


def _hardened():
    options = _options()
    return options, build_pod_manifest(options, _request(), IDENTITY, {}, 1, False)


def test_pods_are_hardened():
    options, manifest = _hardened()
    check_pod_semantics(manifest, options, gpus=1)
    spec = manifest["spec"]
    (c,) = spec["containers"]
    assert spec["automountServiceAccountToken"] is False
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert c["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                    "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}}
    scratch = next(v for v in spec["volumes"] if v["name"] == "scratch")
    assert "emptyDir" in scratch and {"name": "scratch", "mountPath": "/tmp"} in c["volumeMounts"]
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["HOME"].startswith("/tmp/") and env["TMPDIR"] == "/tmp", "everything written goes to the emptyDir"
    assert {"cpu", "memory", "ephemeral-storage"} <= set(c["resources"]["limits"])
    assert c["image"].endswith(DIGEST)


def _drop(path):
    def edit(manifest):
        *parents, last = path
        node = manifest
        for key in parents:
            node = node[key]
        del node[last]
    return edit


def _set(path, value):
    def edit(manifest):
        *parents, last = path
        node = manifest
        for key in parents:
            node = node[key]
        node[last] = value
    return edit


C = ("spec", "containers", 0)
MISSING = {
    "readOnlyRootFilesystem": (_drop((*C, "securityContext", "readOnlyRootFilesystem")), "readOnlyRootFilesystem"),
    "capabilities": (_drop((*C, "securityContext", "capabilities")), "capabilities must drop ALL"),
    "capabilities-add": (_set((*C, "securityContext", "capabilities"), {"drop": ["ALL"], "add": ["NET_ADMIN"]}),
                         "capabilities must drop ALL and add none"),
    "allowPrivilegeEscalation": (_set((*C, "securityContext", "allowPrivilegeEscalation"), True),
                                 "allowPrivilegeEscalation must be false"),
    "seccomp": (_drop(("spec", "securityContext", "seccompProfile")), "seccompProfile must be RuntimeDefault"),
    "token": (_drop(("spec", "automountServiceAccountToken")), "automountServiceAccountToken must be false"),
    "scratch": (_set(("spec", "volumes", 0), {"name": "scratch", "hostPath": {"path": "/tmp"}}),
                "no emptyDir mounted at /tmp"),
    "cpu-limit": (_drop((*C, "resources", "limits", "cpu")), "no cpu limit"),
    "storage-limit": (_drop((*C, "resources", "limits", "ephemeral-storage")), "no ephemeral-storage limit"),
    "tag": (_set((*C, "image"), "crroboticsdev.azurecr.io/robotics-trainer:0.1.0"), "not pinned by digest"),
}


@pytest.mark.parametrize("case", sorted(MISSING))
def test_a_manifest_missing_any_hardening_setting_fails_the_semantics_check(case):
    options, manifest = _hardened()
    edit, problem = MISSING[case]
    edit(manifest)
    with pytest.raises(ValueError, match=problem):
        check_pod_semantics(manifest, options, gpus=1)


def test_a_task_runs_as_its_training_domains_service_account():
    """infra_tf scopes each training domain's identity to its tasks' blob prefixes (ABAC); that holds only when the
    pod runs as the domain's service account (the sample's westeurope has `teama` for `anymal-*`)."""
    options = _options("westeurope")
    domains = REGIONS["westeurope"]["aks"]["training_domains"]

    def manifest(task):
        request = LaunchRequest(task=task, region="westeurope", step="train", config_yaml="seed: 1\n",
                                args=["--run-dir", "r"], gpus=1)
        return build_pod_manifest(options, request, IDENTITY, {}, 1, False)

    team = manifest("anymal-flat")
    assert team["spec"]["serviceAccountName"] == domains["teama"]["service_account"] == "robotics-trainer-teama"
    check_pod_semantics(team, options, gpus=1)
    other = manifest("cartpole")
    assert other["spec"]["serviceAccountName"] == domains["default"]["service_account"]
    team["spec"]["serviceAccountName"] = other["spec"]["serviceAccountName"]  # another domain's identity: refused
    with pytest.raises(ValueError, match="service account of task 'anymal-flat'"):
        check_pod_semantics(team, options, gpus=1)
    narrow = K8sOptions.from_region("westeurope", {**REGIONS["westeurope"], "aks": {
        **REGIONS["westeurope"]["aks"], "training_domains": {"teama": domains["teama"]}}},
        {"image_digest": DIGEST})
    with pytest.raises(ValueError, match="task cartpole: no training domain of this region covers it"):
        narrow.service_account_for("cartpole")
