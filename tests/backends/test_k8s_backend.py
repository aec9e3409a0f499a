"""The k8s backend's attempt loop against a CoreV1Api stand-in whose pods are real local processes.

Each pod runs in its own scratch "container" (tests/standins/sandbox.py): the test sees only what a deployment
offers, the store (Azurite, where the fake trainer keeps its run directory) and the Dagster instance.
"""

from __future__ import annotations

import json
import os
import time
import uuid
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
DIGEST = "sha256:" + "0" * 64


@pytest.fixture
def api(tmp_path, azurite):
    fake = FakeCoreV1Api(tmp_path / "pods", {**os.environ, "PYTHONPATH": str(ROOT)},
                         {"robotics-storage": {"connection-string": azurite.connection_string}})
    yield fake
    fake.shutdown()


@pytest.fixture
def run_url(azurite, monkeypatch):
    from trainer.storage import open_store

    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)  # the test reads the store
    url = f"{azurite.blob_endpoint}/runs/k8s-{uuid.uuid4().hex[:8]}"
    store = open_store(url)
    store.put_bytes(b"", ".keep")  # the container exists before the first pod writes
    return url


def _store(url):
    from trainer.storage import open_store

    return open_store(url)


def _progress(url) -> int:
    store = _store(url)
    return int(store.read_bytes("progress.txt") or 0) if store.exists("progress.txt") else 0


def _backend(api, **over) -> K8sBackend:
    options = K8sOptions.from_region("eastus", REGIONS["eastus"], {
        "module": "tests.backends.fake_trainer", "poll_interval_s": 0.1, "image_digest": DIGEST,
        "api_retry_wait_s": 0.05, "termination_grace_s": 30,
        "secret_env": {"AZURE_STORAGE_CONNECTION_STRING": {"name": "robotics-storage", "key": "connection-string"}},
        **over})
    return K8sBackend(options, core_api=api)


def _run(backend, run_url, before=None, instance=None, **env):
    request = LaunchRequest(task="cartpole", region="eastus", step="train", config_yaml="task: cartpole\n",
                            args=["--run-dir", run_url], env={k: str(v) for k, v in env.items()}, gpus=1)

    @dg.asset(partitions_def=PARTS)
    def policy(context):
        if before:
            before(context, request)
        return backend.launch(context, request).get_materialize_result()

    return dg.materialize([policy], partition_key="cartpole", raise_on_error=False,
                          instance=instance or dg.DagsterInstance.ephemeral())


def _error(result) -> str:
    return result.failure_data_for_node("policy").error.message


def _wait_gone(api, timeout=10):
    deadline = time.monotonic() + timeout
    while api.pods and time.monotonic() < deadline:
        time.sleep(0.05)


def test_success_in_a_private_scratch_that_dies_with_the_pod(api, run_url, tmp_path):
    instance = dg.DagsterInstance.ephemeral()
    result = _run(_backend(api), run_url, instance=instance, FAKE_TRAIN_S=0.2)
    assert result.success, _error(result)
    mat = result.asset_materializations_for_node("policy")[0]
    assert mat.metadata["resume_flag"].value is False and mat.metadata["k8s_pod"].value
    cwd = mat.metadata["cwd"].value
    assert cwd.startswith(str(tmp_path / "pods")) and not Path(cwd).exists(), "scratch removed with the pod"
    _wait_gone(api)
    assert api.pods == {}, "finished pods are deleted"
    assert _progress(run_url) == 2, "the run directory lives in the store"
    logs = [e.user_message for e in instance.all_logs(result.run_id)]
    assert any("fake train: config has 15 bytes" in m for m in logs), "Pipes messages arrive through pod logs"


def test_a_host_path_run_dir_never_reaches_the_test_disk(api, tmp_path):
    """The shared-disk shortcut is impossible: an absolute path in the spec lands in the pod's own filesystem."""
    host_dir = tmp_path / "host-run"
    result = _run(_backend(api), str(host_dir), FAKE_TRAIN_S=0.1)
    assert result.success, _error(result)
    assert not host_dir.exists()


def test_pipes_over_files_of_this_machine_is_refused(api, run_url):
    backend = _backend(api)
    backend.pipes = lambda: (dg.PipesTempFileContextInjector(), dg.PipesTempFileMessageReader())
    result = _run(backend, run_url, FAKE_TRAIN_S=0.1)
    assert not result.success
    assert "CreateContainerConfigError" in _error(result) and "cannot read it" in _error(result)


def test_pending_then_running(api, run_url):
    api.pending_s = 0.6
    seen = []
    backend = _backend(api)
    real_poll = backend.poll

    def poll(context, name, reader):
        state = real_poll(context, name, reader)
        seen.append(state.outcome)
        return state

    backend.poll = poll
    result = _run(backend, run_url, FAKE_TRAIN_S=0.1)
    assert result.success and seen[0] == "pending" and "running" in seen


def test_a_pod_pending_past_the_startup_timeout_is_deleted(api, run_url):
    api.pending_s = 30  # no GPU node scales up
    result = _run(_backend(api, startup_timeout_s=0.5), run_url)
    assert not result.success and "stayed Pending for 0.5s (no GPU node scaled up?); deleted" in _error(result)
    assert "Debug information for pod" in _error(result), "dagster-k8s' get_pod_debug_info"
    _wait_gone(api)
    assert api.pods == {}


@pytest.mark.parametrize("kind", ["Evicted", "node-lost"])
def test_spot_eviction_or_node_loss_resumes_from_the_store(api, run_url, kind):
    api.disruptions.append((lambda: _progress(run_url) >= 3, kind))
    result = _run(_backend(api), run_url, FAKE_TRAIN_S=1.5)
    assert result.success, _error(result)
    first, second = api.created
    assert "--resume" not in first["spec"]["containers"][0]["args"]
    assert second["spec"]["containers"][0]["args"][-1] == "--resume"
    mat = result.asset_materializations_for_node("policy")[0]
    assert mat.metadata["resumed_from"].value >= 3
    assert [a["outcome"] for a in mat.metadata["k8s_attempts"].value] == ["disruption", "succeeded"]


def test_application_failure_is_not_retried(api, run_url):
    result = _run(_backend(api), run_url, FAKE_TRAIN_S=0.1, FAKE_EXIT=3)
    assert not result.success and len(api.created) == 1
    assert "trainer: Error (exit code 3)" in _error(result)
    assert "fake trainer: failing on purpose" in _error(result), "dagster-k8s' debug info: the last log lines"


@pytest.mark.parametrize("case", ["image-pull", "missing-secret-key"])
def test_a_container_that_cannot_start_fails_the_attempt_at_once(api, run_url, case):
    over = {}
    if case == "image-pull":
        api.unpullable.add(f"{REGIONS['eastus']['container_registry']['trainer_image']}@{DIGEST}")
    else:
        over["secret_env"] = {"AZURE_STORAGE_CONNECTION_STRING": {"name": "robotics-storage", "key": "typo"}}
    started = time.monotonic()
    startup_timeout_s = 300  # what a failure to start would wait for: far beyond a busy machine's seconds
    result = _run(_backend(api, startup_timeout_s=startup_timeout_s, **over), run_url)
    assert not result.success and len(api.created) == 1
    assert time.monotonic() - started < startup_timeout_s / 5, "no waiting for the startup timeout"
    message = _error(result)
    if case == "image-pull":
        assert "ErrImagePull" in message or "ImagePullBackOff" in message
    else:
        assert "CreateContainerConfigError: couldn't find key typo in Secret robotics/robotics-storage" in message
    _wait_gone(api)
    assert api.pods == {}


def test_transient_api_errors_are_retried(api, run_url):
    backend = _backend(api)
    real_poll = backend.poll
    calls = []

    def flaky_poll(context, name, reader):
        if len(calls) == 1:
            api.fail_next(503, times=2)  # two 503s in a row from the API server, mid-run
        calls.append(name)
        return real_poll(context, name, reader)

    backend.poll = flaky_poll
    api.fail_next(500)  # and one on create
    result = _run(backend, run_url, FAKE_TRAIN_S=0.3)
    assert result.success, _error(result)
    assert len(api.created) == 1


def test_api_errors_that_do_not_stop_are_a_clear_failure(api, run_url):
    backend = _backend(api, api_retries=1)
    real_poll = backend.poll

    def broken_poll(context, name, reader):
        api.fail_next(503, times=5)
        return real_poll(context, name, reader)

    backend.poll = broken_poll
    result = _run(backend, run_url, FAKE_TRAIN_S=5)
    assert not result.success
    assert "Retry limit of 1 exceeded" in _error(result)


def test_terminating_the_run_deletes_the_pod_gracefully(api, run_url):
    backend = _backend(api)
    real_sleep = time.sleep

    def interrupting_sleep(s):  # Dagster delivers a run termination as this exception in the step's thread
        if _progress(run_url) >= 2:
            raise dg.DagsterExecutionInterruptedError()
        real_sleep(s)

    backend._sleep = interrupting_sleep
    result = _run(backend, run_url, FAKE_TRAIN_S=30)
    assert not result.success
    _wait_gone(api)
    (name,) = api.signals
    assert api.signals[name][0] == "SIGTERM"
    assert int(_store(run_url).read_bytes("sigterm.txt")) >= 2, "the trainer checkpointed on SIGTERM"


def test_a_pod_that_outlives_its_grace_period_is_killed(api, run_url):
    api.max_grace_s = 1.0
    backend = _backend(api)
    real_sleep = time.sleep

    def interrupting_sleep(s):
        if _progress(run_url) >= 2:
            raise dg.DagsterExecutionInterruptedError()
        real_sleep(s)

    backend._sleep = interrupting_sleep
    result = _run(backend, run_url, FAKE_TRAIN_S=30, FAKE_IGNORE_SIGTERM=1)
    assert not result.success
    _wait_gone(api)
    assert list(api.signals.values()) == [["SIGTERM", "SIGKILL"]]


def test_restart_budget(api, run_url):
    api.disruptions += [(0.3, "Evicted")] * 3
    result = _run(_backend(api, restart_budget=1), run_url, FAKE_TRAIN_S=5)
    assert not result.success and len(api.created) == 2
    assert "restart budget exhausted" in _error(result)
    _wait_gone(api)
    assert api.pods == {}


def test_another_runs_pod_for_the_partition_blocks_a_second_launch(api, run_url):
    backend = _backend(api)

    def other_run(context, request):
        identity = launch_identity(context, request)
        body = backend.manifest(request, identity, {}, 1, False)
        body["metadata"]["labels"][LABEL_RUN] = "another-run"
        body["metadata"]["name"] = "other-run-pod"
        env = body["spec"]["containers"][0]["env"]
        env[:] = [e for e in env if e["name"] != "FAKE_TRAIN_S"] + [{"name": "FAKE_TRAIN_S", "value": "30"}]
        api.create_namespaced_pod("robotics", body)

    result = _run(backend, run_url, before=other_run, FAKE_TRAIN_S=0.2)
    assert not result.success
    assert "already running train in pod other-run-pod" in _error(result)
    assert list(api.pods) == ["other-run-pod"]


def test_of_two_racing_launches_the_later_pod_withdraws(api, run_url):
    backend = _backend(api)
    real_create = api.create_namespaced_pod

    def racing_create(namespace, body, **kw):  # another run's pod lands between our check and our create
        if not api.created:
            rival = json.loads(json.dumps(body))
            rival["metadata"]["name"] = "rival-pod"
            rival["metadata"]["labels"][LABEL_RUN] = "another-run"
            env = rival["spec"]["containers"][0]["env"]
            rival["spec"]["containers"][0]["env"] = [e for e in env if e["name"] != "FAKE_TRAIN_S"] + [
                {"name": "FAKE_TRAIN_S", "value": "30"}]
            real_create(namespace, rival)
            time.sleep(0.01)
        return real_create(namespace, body, **kw)

    api.create_namespaced_pod = racing_create
    result = _run(backend, run_url, FAKE_TRAIN_S=5)
    assert not result.success
    assert "this launch withdrew pod" in _error(result)
    _wait_gone(api, 3)
    assert list(api.pods) == ["rival-pod"], "our pod is gone, the rival's keeps training"


def test_pod_logs_mode_masks_credentials_the_container_printed(api, run_url, capfd):
    from tests.backends.fake_trainer import PLANTED

    result = _run(_backend(api), run_url, FAKE_TRAIN_S=0.1, FAKE_LEAK=1)
    assert result.success, _error(result)
    out = capfd.readouterr().out
    assert "connecting with AccountKey=***" in out, "non-Pipes lines reach the step's stdout (compute log)"
    assert PLANTED not in out


def test_pod_failure_text_masks_credentials_the_container_printed():
    from robotics_assets.lib.launch.k8s import pod_failure_text
    from tests.backends.fake_trainer import PLANTED

    pod = {"status": {"reason": "Error", "containerStatuses": [{"state": {"terminated": {
        "exitCode": 1, "message": f"boom: DefaultEndpointsProtocol=https;AccountKey={PLANTED};"}}}]}}
    text = pod_failure_text(pod)
    assert "AccountKey=***" in text and PLANTED not in text
