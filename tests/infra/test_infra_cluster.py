"""The cluster objects Terraform renders (modules/cluster_manifests, applied by scripts/post_apply.sh): valid
Kubernetes, a Role that allows exactly what the k8s backend calls, an egress fence around the pods it launches,
and the post-apply step that applies them and installs the GPU operator."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from robotics_assets.lib.launch.base import LaunchRequest
from robotics_assets.lib.launch.k8s import K8sOptions, build_pod_manifest
from robotics_assets.lib.launch.remote import LaunchIdentity
from tests.infra.conftest import INFRA, ROOT

REGIONS = json.loads((INFRA / "examples" / "regions.sample.json").read_text())
MANIFESTS = json.loads((INFRA / "examples" / "cluster_manifests.sample.json").read_text())
K8S_VERSION = "1.33"
# Kubernetes client calls -> (RBAC verb, resource). PipesK8sClient never uses the Job API.
CALLS = {"create": "create", "read": "get", "list": "list", "delete": "delete", "patch": "patch", "replace": "update"}


def objects(region: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(MANIFESTS[region]) if doc]


def of_kind(region: str, kind: str) -> list[dict]:
    return [o for o in objects(region) if o["kind"] == kind]


@pytest.mark.parametrize("region", sorted(MANIFESTS))
def test_every_object_is_schema_valid_strict(region):
    docs = objects(region)
    assert {o["kind"] for o in docs} >= {"Namespace", "ServiceAccount", "Role", "RoleBinding", "NetworkPolicy"}
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def _backend_calls() -> set[tuple[str, str]]:
    import dagster_k8s

    sources = [ROOT / "robotics_assets/lib/launch/k8s.py", Path(dagster_k8s.__file__).parent / "pipes.py",
               Path(dagster_k8s.__file__).parent / "client.py"]
    resources = {"pod": "pods", "pod_log": "pods/log", "pod_status": "pods/status", "event": "events"}
    calls = set()
    for source in sources:
        for verb, suffix in re.findall(r"\.([a-z]+)_namespaced_(\w+)", source.read_text()):
            if suffix.startswith("job"):
                continue
            assert suffix in resources and verb in CALLS, f"{source.name}: unmapped call {verb}_namespaced_{suffix}"
            calls.add((CALLS[verb], resources[suffix]))
    return calls


@pytest.mark.parametrize("region", sorted(MANIFESTS))
def test_orchestrator_role_allows_what_the_k8s_backend_calls_and_nothing_more(region):
    (role,) = of_kind(region, "Role")
    (binding,) = of_kind(region, "RoleBinding")
    allowed = {(verb, resource) for rule in role["rules"] for resource in rule["resources"] for verb in rule["verbs"]}
    needed = _backend_calls()
    assert ("create", "pods") in needed and ("get", "pods/log") in needed  # the scan found the real calls
    assert needed <= allowed, f"the k8s backend calls {sorted(needed - allowed)}, which the Role does not allow"
    writes = {(v, r) for v, r in allowed if v not in ("get", "list", "watch")}
    assert {r for _, r in writes} == {"pods"}, writes  # pods only: no secrets, exec, services, roles
    assert all(rule["apiGroups"] == [""] for rule in role["rules"])
    namespace = REGIONS[region]["aks"]["namespace"]
    assert role["metadata"]["namespace"] == binding["metadata"]["namespace"] == namespace
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role["metadata"]["name"]}
    (subject,) = binding["subjects"]
    assert subject["kind"] == "User" and re.fullmatch(r"[0-9a-f-]{36}", subject["name"])
    assert not of_kind(region, "ClusterRole") and not of_kind(region, "ClusterRoleBinding")


def _pod(region: str, task: str = "cartpole") -> dict:
    options = K8sOptions.from_region(region, REGIONS[region], {"image_digest": "sha256:" + "0" * 64})  # pods pin it
    request = LaunchRequest(task=task, region=region, step="train", config_yaml="task: cartpole\n",
                            args=["--run-dir", "r"], gpus=1)
    identity = LaunchIdentity(run_id="0f8c2a4e-1111-2222-3333-444455556666", asset="policy",
                              partition=f"{region}|{task}", step="train", run_key="abcdef0123456789")
    return build_pod_manifest(options, request, identity, {}, 1, False)


@pytest.mark.parametrize("region", sorted(MANIFESTS))
def test_the_pod_the_k8s_backend_builds_lands_inside_the_fence(region):
    pod = _pod(region)
    namespace = pod["metadata"]["namespace"]
    accounts = {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in of_kind(region, "ServiceAccount")}
    account = accounts[(namespace, pod["spec"]["serviceAccountName"])]
    assert account["metadata"]["annotations"]["azure.workload.identity/client-id"] == (
        REGIONS[region]["aks"]["training_identity_client_id"])
    assert account["automountServiceAccountToken"] is False
    (policy,) = [p for p in of_kind(region, "NetworkPolicy") if p["metadata"]["namespace"] == namespace]
    assert policy["spec"]["podSelector"] == {}  # every pod of the training namespace, whatever its labels
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"} and "ingress" not in policy["spec"]


@pytest.mark.parametrize("region", sorted(MANIFESTS))
def test_trainer_egress_is_dns_private_endpoints_and_public_https_only(region):
    for policy in of_kind(region, "NetworkPolicy"):
        rules = policy["spec"]["egress"]
        dns, *rest = rules
        assert dns["to"][0]["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}
        assert sorted((p["protocol"], p["port"]) for p in dns["ports"]) == [("TCP", 53), ("UDP", 53)]
        for rule in rest:
            assert rule["ports"] == [{"protocol": "TCP", "port": 443}], rule
            for peer in rule["to"]:
                block = peer["ipBlock"]
                if block["cidr"] == "0.0.0.0/0":  # the internet, minus every private, link-local and host range
                    assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16",
                            "168.63.129.16/32"} <= set(block["except"])
                else:  # the private endpoint subnet of the region's VNet
                    assert block["cidr"].startswith("10.") and block["cidr"].endswith("/24")


def test_private_endpoint_regions_reach_their_endpoints():
    west = [p for p in of_kind("westeurope", "NetworkPolicy")]
    cidrs = {peer["ipBlock"]["cidr"] for p in west for rule in p["spec"]["egress"] for peer in rule["to"]
             if "ipBlock" in peer}
    assert "10.41.16.0/24" in cidrs  # westeurope has private endpoints (examples/contract)
    east = {peer["ipBlock"]["cidr"] for p in of_kind("eastus", "NetworkPolicy") for rule in p["spec"]["egress"]
            for peer in rule["to"] if "ipBlock" in peer}
    assert east == {"0.0.0.0/0"}  # no private endpoints there (its Redis endpoint is OSMO's, not the trainers')


def test_osmo_regions_fence_the_workflow_namespace_and_federate_its_account():
    east = REGIONS["eastus"]["osmo"]
    namespaces = {p["metadata"]["namespace"] for p in of_kind("eastus", "NetworkPolicy")}
    assert namespaces == {REGIONS["eastus"]["aks"]["namespace"], east["workflow_namespace"]}
    (account,) = [o for o in of_kind("eastus", "ServiceAccount") if o["metadata"]["name"] == east["workflow_service_account"]]
    assert account["metadata"]["annotations"]["azure.workload.identity/client-id"] == (
        REGIONS["eastus"]["aks"]["training_identity_client_id"])
    assert {p["metadata"]["namespace"] for p in of_kind("westeurope", "NetworkPolicy")} == {"robotics"}
    labels = {n["metadata"]["name"]: n["metadata"].get("labels", {}) for n in of_kind("eastus", "Namespace")}
    assert labels["robotics"]["pod-security.kubernetes.io/enforce"] == "baseline"  # our launchers' pods
    assert "pod-security.kubernetes.io/enforce" not in labels[east["workflow_namespace"]]  # OSMO builds its own
    assert labels[east["workflow_namespace"]]["pod-security.kubernetes.io/audit"] == "restricted"


def test_every_training_domain_has_its_service_account():
    for region, outputs in REGIONS.items():
        accounts = {o["metadata"]["name"]: o for o in of_kind(region, "ServiceAccount")}
        for domain in outputs["aks"]["training_domains"].values():
            annotation = accounts[domain["service_account"]]["metadata"]["annotations"]
            assert annotation["azure.workload.identity/client-id"] == domain["identity_client_id"]


def test_dcgm_scrape_config_matches_the_gpu_operator_exporter():
    (config,) = [o for o in of_kind("eastus", "ConfigMap") if o["metadata"]["name"] == "ama-metrics-prometheus-config"]
    assert config["metadata"]["namespace"] == "kube-system"
    (job,) = yaml.safe_load(config["data"]["prometheus-config"])["scrape_configs"]
    keep = {r["regex"] for r in job["relabel_configs"] if r.get("action") == "keep"}
    assert keep == {"nvidia-dcgm-exporter", "9400"}  # the operator's exporter pods and their metrics port
    values = yaml.safe_load((INFRA / "cluster" / "gpu-operator.values.yaml").read_text())
    assert values["dcgmExporter"]["enabled"] is True


def test_gpu_operator_daemons_tolerate_every_gpu_pool_taint():
    values = yaml.safe_load((INFRA / "cluster" / "gpu-operator.values.yaml").read_text())
    assert values["driver"]["enabled"] is False and values["devicePlugin"]["enabled"] is True  # AKS owns the driver

    def tolerated(tolerations, taint):
        return any(t["key"] == taint["key"] and t.get("effect", taint["effect"]) == taint["effect"] and (
            t["operator"] == "Exists" or t.get("value") == taint["value"]) for t in tolerations)

    taints = [t for region in REGIONS.values() for pool in region["gpu_node_pools"].values() for t in pool["taints"]]
    assert {t["key"] for t in taints} == {"nvidia.com/gpu", "kubernetes.azure.com/scalesetpriority"}
    for taint in taints:
        assert tolerated(values["daemonsets"]["tolerations"], taint), taint
        assert tolerated(values["node-feature-discovery"]["worker"]["tolerations"], taint), taint
    # the system pool runs only critical add-ons (CriticalAddonsOnly taint): the operator must tolerate it
    assert any(t["key"] == "CriticalAddonsOnly" for t in values["operator"]["tolerations"])


@pytest.fixture
def stub_tools(tmp_path):
    """az, kubelogin, kubectl, helm and terraform as recorders (no cluster or Azure here); jq is the real one."""
    bin_dir, log = tmp_path / "bin", tmp_path / "calls.log"
    bin_dir.mkdir()
    recorder = f"""#!/usr/bin/env bash
tool="$(basename "$0")"
{{ printf 'CALL %s\\n' "$tool"; printf 'ARG %s\\n' "$@"; }} >> {log}
args=("$@")
for i in "${{!args[@]}}"; do
  if [[ $tool == kubectl && ${{args[$i]}} == -f ]]; then
    copy="{tmp_path}/applied-$RANDOM$RANDOM.yaml"; cp "${{args[$((i + 1))]}}" "$copy"; printf 'FILE %s\\n' "$copy" >> {log}
  fi
done
if [[ $tool == terraform && ${{args[1]}} == output ]]; then cat "{INFRA}/examples/${{args[3]}}.sample.json"; fi
"""
    for tool in ("az", "kubelogin", "kubectl", "helm", "terraform"):
        (bin_dir / tool).write_text(recorder)
        (bin_dir / tool).chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}

    def run(*regions: str) -> tuple[subprocess.CompletedProcess, list[dict]]:
        proc = subprocess.run([str(INFRA / "scripts" / "post_apply.sh"), *regions], env=env, capture_output=True,
                              text=True, timeout=60, check=False)
        calls: list[dict] = []
        for line in log.read_text().splitlines() if log.exists() else []:
            kind, _, value = line.partition(" ")
            if kind == "CALL":
                calls.append({"tool": value, "args": [], "file": ""})
            elif kind == "ARG":
                calls[-1]["args"].append(value)
            else:
                calls[-1]["file"] = Path(value).read_text()
        return proc, calls

    return run


def test_post_apply_applies_each_regions_objects_and_installs_the_gpu_operator(stub_tools):
    proc, calls = stub_tools()
    assert proc.returncode == 0, proc.stderr
    for region, outputs in REGIONS.items():
        creds = [c for c in calls if c["tool"] == "az" and outputs["aks"]["cluster_name"] in c["args"]]
        assert creds and outputs["resource_group"] in creds[0]["args"]
        applied = [c for c in calls if c["tool"] == "kubectl" and c["file"].rstrip() == MANIFESTS[region].rstrip()]
        assert len(applied) == 1 and "--server-side" in applied[0]["args"]
    helm = [c for c in calls if c["tool"] == "helm"]
    assert len(helm) == len(REGIONS)  # both sample regions have GPU pools
    for call in helm:
        args = call["args"]
        assert args[:3] == ["upgrade", "--install", "gpu-operator"]
        assert re.fullmatch(r"v\d+\.\d+\.\d+", args[args.index("--version") + 1])  # pinned
        assert args[args.index("-f") + 1] == str(INFRA / "cluster" / "gpu-operator.values.yaml")
    order = [c["tool"] for c in calls if c["tool"] != "terraform"]
    assert order.index("kubelogin") < order.index("kubectl") < order.index("helm")


def test_post_apply_refuses_an_unknown_region_before_touching_a_cluster(stub_tools):
    proc, calls = stub_tools("northpole")
    assert proc.returncode == 2 and "region northpole is not in terraform output regions" in proc.stderr
    assert not [c for c in calls if c["tool"] != "terraform"]
