"""The k8s backend's attempt loop against a CoreV1Api stand-in whose pods are real local processes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg
import pytest

from robotics_assets.lib.launch.base import LaunchRequest
from robotics_assets.lib.launch.k8s import K8sBackend, K8sOptions
from robotics_assets.lib.launch.remote import LABEL_RUN, launch_identity
from tests.backends.k8s_standin import FakeCoreV1Api

ROOT = Path(__file__).resolve().parents[2]
REGIONS = json.loads((ROOT / "infra_tf/examples/regions.sample.json").read_text())
PARTS = dg.StaticPartitionsDefinition(["cartpole"])


@pytest.fixture
def api(tmp_path):
    fake = FakeCoreV1Api(tmp_path / "pods", {**os.environ, "PYTHONPATH": str(ROOT)},
                         {"robotics-storage": {"connection-string": "UseDevelopmentStorage=true"}})
    yield fake
    fake.shutdown()


def _backend(api, **over) -> K8sBackend:
    options = K8sOptions.from_region("eastus", REGIONS["eastus"], {
        "module": "tests.backends.fake_trainer", "pipes": "local-files", "poll_interval_s": 0.1,
        "secret_env": {"AZURE_STORAGE_CONNECTION_STRING": {"name": "robotics-storage", "key": "connection-string"}},
        **over})
    return K8sBackend(options, core_api=api)


def _run(backend, tmp_path, before=None, **env):
    request = LaunchRequest(task="cartpole", region="eastus", step="train", config_yaml="task: cartpole\n",
                            args=["--run-dir", str(tmp_path / "run")], env={k: str(v) for k, v in env.items()},
                            gpus=1)

    @dg.asset(partitions_def=PARTS)
    def policy(context):
        if before:
            before(context, request)
        return backend.launch(context, request).get_materialize_result()

    return dg.materialize([policy], partition_key="cartpole", raise_on_error=False)


def test_success_and_cleanup(api, tmp_path):
    result = _run(_backend(api), tmp_path, FAKE_TRAIN_S=0.2)
    assert result.success
    mat = result.asset_materializations_for_node("policy")[0]
    assert mat.metadata["resume_flag"].value is False and mat.metadata["k8s_pod"].value
    assert api.pods == {}, "finished pods are deleted"


@pytest.mark.parametrize("kind", ["Evicted", "node-lost"])
def test_spot_eviction_or_node_loss_resumes(api, tmp_path, kind):
    progress = tmp_path / "run" / "progress.txt"
    api.disruptions.append((lambda: progress.exists() and int(progress.read_text() or 0) >= 3, kind))
    result = _run(_backend(api), tmp_path, FAKE_TRAIN_S=1.5)
    assert result.success
    first, second = api.created
    assert "--resume" not in first["spec"]["containers"][0]["args"]
    assert second["spec"]["containers"][0]["args"][-1] == "--resume"
    mat = result.asset_materializations_for_node("policy")[0]
    assert mat.metadata["resumed_from"].value > 0
    assert [a["outcome"] for a in mat.metadata["k8s_attempts"].value] == ["disruption", "succeeded"]


def test_application_failure_is_not_retried(api, tmp_path):
    result = _run(_backend(api), tmp_path, FAKE_TRAIN_S=0.1, FAKE_EXIT=3)
    assert not result.success and len(api.created) == 1
    assert "trainer: Error (exit code 3)" in result.failure_data_for_node("policy").error.message


def test_restart_budget(api, tmp_path):
    api.disruptions += [(0.3, "Evicted")] * 3
    result = _run(_backend(api, restart_budget=1), tmp_path, FAKE_TRAIN_S=5)
    assert not result.success and len(api.created) == 2
    assert "restart budget exhausted" in result.failure_data_for_node("policy").error.message
    assert api.pods == {}


def test_another_runs_pod_for_the_partition_blocks_a_second_launch(api, tmp_path):
    backend = _backend(api)

    def other_run(context, request):
        identity = launch_identity(context, request)
        body = backend.manifest(request, identity, {}, 1, False)
        body["metadata"]["labels"][LABEL_RUN] = "another-run"
        body["metadata"]["name"] = "other-run-pod"
        env = body["spec"]["containers"][0]["env"]
        env[:] = [e for e in env if e["name"] != "FAKE_TRAIN_S"] + [{"name": "FAKE_TRAIN_S", "value": "30"}]
        api.create_namespaced_pod("robotics", body)

    result = _run(backend, tmp_path, before=other_run, FAKE_TRAIN_S=0.2)
    assert not result.success
    assert "already running train in pod other-run-pod" in result.failure_data_for_node("policy").error.message
    assert list(api.pods) == ["other-run-pod"]


def test_of_two_racing_launches_the_later_pod_withdraws(api, tmp_path):
    backend = _backend(api)
    real_create = api.create_namespaced_pod

    def racing_create(namespace, body):  # another run's pod lands between our check and our create
        if not api.created:
            rival = {**body, "metadata": {**body["metadata"], "name": "rival-pod",
                                          "labels": {**body["metadata"]["labels"], LABEL_RUN: "another-run"}}}
            env = rival["spec"]["containers"][0]["env"]
            rival["spec"]["containers"][0]["env"] = [e for e in env if e["name"] != "FAKE_TRAIN_S"] + [
                {"name": "FAKE_TRAIN_S", "value": "30"}]
            real_create(namespace, rival)
        return real_create(namespace, body)

    api.create_namespaced_pod = racing_create
    result = _run(backend, tmp_path, FAKE_TRAIN_S=5)
    assert not result.success
    assert "this launch withdrew pod" in result.failure_data_for_node("policy").error.message
    assert list(api.pods) == ["rival-pod"], "our pod is gone, the rival's keeps training"


def test_pod_failure_text_masks_credentials_the_container_printed():
    from robotics_assets.lib.launch.k8s import pod_failure_text
    from tests.backends.fake_trainer import PLANTED

    pod = {"status": {"reason": "Error", "containerStatuses": [{"state": {"terminated": {
        "exitCode": 1, "message": f"boom: DefaultEndpointsProtocol=https;AccountKey={PLANTED};"}}}]}}
    text = pod_failure_text(pod)
    assert "AccountKey=***" in text and PLANTED not in text
