"""The OSMO backend end to end against the stand-in: Dagster -> OSMO client -> stand-in -> process -> Pipes.

These use a small Pipes-speaking fake trainer (tests/backends/fake_trainer.py) to exercise the control paths in
seconds; test_osmo_chain.py runs the real trainer. Every task runs in its own scratch folder: the test sees only
what a deployment offers, the store (Azurite: the run directory and the Pipes messages) and the Dagster instance.
"""

from __future__ import annotations

import os
import time
import uuid

import dagster as dg
import pytest

from robotics_assets.lib.launch.base import LaunchRequest
from robotics_assets.lib.launch.osmo import OsmoBackend, OsmoOptions
from robotics_assets.lib.launch.remote import LABEL_RUN, launch_identity
from robotics_assets.lib.osmo import OsmoClient, WorkflowStatus
from robotics_assets.lib.osmo.spec import Resources
from tests.backends.conftest import ROOT, TOKEN
from tests.standins.osmo_server import OsmoStandIn, StandInServer

PARTS = dg.StaticPartitionsDefinition(["cartpole"])
# A pool as OSMO admins often configure one: preempted / evicted tasks are rescheduled in place.
RESCHEDULING_POOL = {"default_exit_actions": {"RESCHEDULE": "3001,3004,3006"}, "max_retry_per_task": 3}


@pytest.fixture
def osmo(tmp_path, azurite, monkeypatch):
    from azure.storage.blob import BlobServiceClient

    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)  # Dagster's side of Pipes
    with BlobServiceClient.from_connection_string(azurite.connection_string) as svc:
        if not svc.get_container_client("pipes").exists():
            svc.create_container("pipes")
    standin = OsmoStandIn(token=TOKEN, pools={"gpu-pool": {}, "rescheduling-pool": RESCHEDULING_POOL},
                          workdir=str(tmp_path / "osmo"), base_env={**os.environ, "PYTHONPATH": str(ROOT)},
                          credentials={"blob": {"connection_string": azurite.connection_string}})
    with StandInServer(standin) as server:
        server.azurite = azurite
        yield server


@pytest.fixture
def run_url(osmo):
    from trainer.storage import open_store

    url = f"{osmo.azurite.blob_endpoint}/runs/osmo-{uuid.uuid4().hex[:8]}"
    open_store(url).put_bytes(b"", ".keep")
    return url


def _progress(url) -> int:
    from trainer.storage import open_store

    store = open_store(url)
    return int(store.read_bytes("progress.txt") or 0) if store.exists("progress.txt") else 0


def _progressed(url):
    """A disruption trigger: true once the attempt now running has trained a step (so it is inside its Pipes
    session, and a graceful stop lets it close that session) - each attempt resumes from the stored progress."""
    seen = {}

    def when() -> bool:
        progress = _progress(url)
        return progress > seen.setdefault("start", progress)

    return when


def _backend(osmo, **over) -> OsmoBackend:
    options = {"pool": "gpu-pool", "image": "crtest.azurecr.io/robotics-trainer:0.1.0",
               "module": "tests.backends.fake_trainer", "resources": Resources(cpu=2, memory="8Gi", storage="10Gi"),
               "pipes": "blob", "pipes_options": {"account_url": osmo.azurite.blob_endpoint, "container": "pipes",
                                                  "interval": 0.2},
               "poll_interval_s": 0.1, "credentials": {"blob": {"AZURE_STORAGE_CONNECTION_STRING": "connection_string"}}}
    options.update(over)
    return OsmoBackend(OsmoClient(osmo.url, token=TOKEN), OsmoOptions(**options))


def _request(run_url, config_yaml="task: cartpole\n", **env) -> LaunchRequest:
    return LaunchRequest(task="cartpole", region="eastus", step="train", config_yaml=config_yaml,
                         args=["--run-dir", run_url], env={k: str(v) for k, v in env.items()})


def _materialize(backend, request, before=None):
    @dg.asset(partitions_def=PARTS)
    def policy(context):
        if before:
            before(context)
        return backend.launch(context, request).get_materialize_result()

    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([policy], partition_key="cartpole", instance=instance, raise_on_error=False)
    return result, instance


def _workflows(osmo):
    return [osmo.standin.workflows[n] for n in osmo.standin.submissions]


def test_success_brings_back_pipes_results_logs_and_spec(osmo, run_url):
    result, instance = _materialize(_backend(osmo), _request(run_url, FAKE_TRAIN_S=0.3))
    assert result.success
    mat = result.asset_materializations_for_node("policy")[0]
    assert mat.metadata["resume_flag"].value is False
    spec = mat.metadata["osmo_workflow_spec"].value
    assert "url:" not in spec and "image: crtest.azurecr.io/robotics-trainer:0.1.0" in spec
    assert "AZURE_STORAGE_CONNECTION_STRING: connection_string" in spec  # by reference, never a value
    (wf,) = _workflows(osmo)
    assert wf.status == "COMPLETED" and wf.labels[LABEL_RUN] == result.run_id
    assert wf.labels["dagster-partition"] == "cartpole" and wf.labels["robotics-step"] == "train"
    logs = [e.user_message for e in instance.all_logs(result.run_id)]
    assert any("stdout line from the fake trainer" in m for m in logs), "OSMO logs are streamed into Dagster"
    assert any("fake train: config has 15 bytes" in m for m in logs), "Pipes log messages arrive"


def test_a_credential_the_task_prints_is_masked_in_the_dagster_log(osmo, run_url):
    from tests.backends.fake_trainer import PLANTED

    result, instance = _materialize(_backend(osmo), _request(run_url, FAKE_TRAIN_S=0.2, FAKE_LEAK=1))
    assert result.success
    logs = [e.user_message for e in instance.all_logs(result.run_id)]
    assert any("connecting with AccountKey=***" in m for m in logs), "the line arrives, masked"
    assert not any(PLANTED in m for m in logs)


def test_preemption_restarts_with_resume(osmo, run_url):
    osmo.standin.inject_disruption("FAILED_PREEMPTED", when=lambda: _progress(run_url) >= 3)
    result, _ = _materialize(_backend(osmo), _request(run_url, FAKE_TRAIN_S=1.5))
    assert result.success
    first, second = _workflows(osmo)
    assert (first.status, first.exit_code, second.status) == ("FAILED", 3006, "COMPLETED")
    assert "--resume" not in first.spec_text and "--resume" in second.spec_text
    assert second.labels["robotics-attempt"] == "2"
    mat = result.asset_materializations_for_node("policy")[0]
    assert mat.metadata["resume_flag"].value is True and mat.metadata["resumed_from"].value > 0
    assert [a["outcome"] for a in mat.metadata["osmo_attempts"].value] == ["disruption", "succeeded"]


@pytest.mark.parametrize("state", ["FAILED_EVICTED", "FAILED_BACKEND_ERROR"])
def test_other_disruptions_restart_too(osmo, run_url, state):
    # strike mid-training by progress, not wall time (CI load)
    osmo.standin.inject_disruption(state, when=lambda: _progress(run_url) >= 2)
    result, _ = _materialize(_backend(osmo), _request(run_url, FAKE_TRAIN_S=1.5))
    assert result.success and [w.status for w in _workflows(osmo)] == ["FAILED", "COMPLETED"]


def test_application_failure_is_not_restarted(osmo, run_url):
    result, _ = _materialize(_backend(osmo), _request(run_url, FAKE_TRAIN_S=0.1, FAKE_EXIT=3))
    assert not result.success
    (wf,) = _workflows(osmo)
    assert wf.status == "FAILED"
    failure = result.failure_data_for_node("policy").error
    assert "ended FAILED" in failure.message and "exit code 3" in failure.message
    assert TOKEN not in failure.message


def test_restart_budget_is_bounded(osmo, run_url):
    for _ in range(3):
        osmo.standin.inject_disruption("FAILED_PREEMPTED", when=_progressed(run_url))
    result, _ = _materialize(_backend(osmo, restart_budget=1), _request(run_url, FAKE_TRAIN_S=5))
    assert not result.success
    assert [(w.status, w.exit_code) for w in _workflows(osmo)] == [("FAILED", 3006), ("FAILED", 3006)]
    assert "restart budget exhausted" in result.failure_data_for_node("policy").error.message


def test_startup_timeout_cancels_a_workflow_stuck_in_the_queue(osmo, run_url):
    osmo.standin.inject_disruption("FAILED_QUEUE_TIMEOUT", hold_in_queue=True)
    result, _ = _materialize(_backend(osmo, startup_timeout_s=0.5), _request(run_url))
    assert not result.success
    assert "did not start within" in result.failure_data_for_node("policy").error.message
    (wf,) = _workflows(osmo)
    wf.done.wait(5)
    assert wf.status == "FAILED_CANCELED"


def test_terminating_the_run_cancels_the_workflow(osmo, run_url):
    backend = _backend(osmo)
    real_sleep = time.sleep

    def interrupting_sleep(s):  # Dagster delivers a run termination as this exception in the step's thread
        if any(w.status == "RUNNING" for w in osmo.standin.workflows.values()) and _progress(run_url) >= 1:
            raise dg.DagsterExecutionInterruptedError()
        real_sleep(s)

    backend._sleep = interrupting_sleep
    result, _ = _materialize(backend, _request(run_url, FAKE_TRAIN_S=30))
    assert not result.success
    (wf,) = _workflows(osmo)
    assert wf.done.wait(5) and wf.status == "FAILED_CANCELED"
    assert wf.process.poll() is not None


def test_early_stopping_cancels_the_workflow_and_the_launch_returns(osmo, run_url):
    """A sweep trial's monitor (lib/early_stopping.py) reads the streamed metric between polls; its stop cancels the
    workflow through the remote loop's own cancel, and the launch ends normally (a stopped trial is not failed)."""
    from robotics_assets.lib.early_stopping import TrialMonitor

    monitor = TrialMonitor(metric="mean_return", direction="maximize",
                           rule={"rule": "median", "grace_timesteps": 3, "min_completed_trials": 2,
                                 "check_interval_s": 0.1},
                           completed=lambda: [{1: 5.0, 3: 10.0}, {1: 6.0, 3: 12.0}])
    backend = _backend(osmo)

    @dg.asset(partitions_def=PARTS)
    def policy(context):
        invocation = backend.launch(context, _request(run_url, FAKE_TRAIN_S=30, FAKE_METRICS=1), monitor=monitor)
        return dg.MaterializeResult(metadata={
            "reported": len(invocation.get_results(implicit_materializations=False)),
            "attempts": invocation.metadata["osmo_attempts"]})

    result = dg.materialize([policy], partition_key="cartpole", instance=dg.DagsterInstance.ephemeral())
    assert result.success and "median stopping rule at timestep" in monitor.stopped
    assert set(monitor.curve.values()) == {0.0} and min(monitor.curve) == 1  # the streamed points
    mat = result.asset_materializations_for_node("policy")[0]
    assert mat.metadata["reported"].value == 0  # the trainer never finished
    assert [a["status"] for a in mat.metadata["attempts"].value] == ["stopped"]
    (wf,) = _workflows(osmo)
    assert wf.done.wait(5) and wf.status == "FAILED_CANCELED"
    assert 3 <= _progress(run_url) < 100  # stopped past the grace period, long before its 300 steps


def test_retried_run_takes_over_its_orphan_and_resumes(osmo, run_url):
    backend = _backend(osmo)
    request = _request(run_url, FAKE_TRAIN_S=0.3)
    orphans = []

    def leave_orphan(context):  # what an earlier, crashed try of this run left behind
        labels = launch_identity(context, request).labels(1)
        spec = backend.render(request, launch_identity(context, request), {}, 1, False)
        orphan = backend.client.submit("gpu-pool", spec.replace("FAKE_TRAIN_S: '0.3'", "FAKE_TRAIN_S: '30'"),
                                       labels=labels)["name"]
        while backend.client.status(orphan) is WorkflowStatus.PENDING:
            time.sleep(0.05)
        orphans.append(orphan)

    result, _ = _materialize(backend, request, before=leave_orphan)
    assert result.success
    orphan = osmo.standin.workflows[orphans[0]]
    assert orphan.status == "FAILED_CANCELED"
    assert "--resume" in _workflows(osmo)[-1].spec_text
    assert not osmo.standin.alive()


def test_same_partition_never_trains_twice(osmo, run_url):
    backend = _backend(osmo)
    request = _request(run_url, FAKE_TRAIN_S=0.3)
    other = {}

    def other_run_is_training(context):
        identity = launch_identity(context, request)
        labels = {**identity.labels(1), LABEL_RUN: "another-run"}
        spec = backend.render(request, identity, {}, 1, False).replace("FAKE_TRAIN_S: '0.3'", "FAKE_TRAIN_S: '30'")
        other["name"] = backend.client.submit("gpu-pool", spec, labels=labels)["name"]

    result, _ = _materialize(backend, request, before=other_run_is_training)
    assert not result.success
    assert "already running train" in result.failure_data_for_node("policy").error.message
    assert [w.name for w in osmo.standin.alive()] == [other["name"]], "the other run's workflow is left alone"
    assert len(osmo.standin.submissions) == 1, "no second workflow was submitted"


def test_secret_looking_env_is_refused(osmo, run_url):
    with pytest.raises(ValueError, match="AZURE_STORAGE_KEY.*looks like a secret"):
        _backend(osmo, env={"AZURE_STORAGE_KEY": "x"})


def test_of_two_racing_launches_the_later_workflow_withdraws(osmo, run_url):
    backend = _backend(osmo)
    real_submit = backend.client.submit

    def racing_submit(pool, spec_yaml, *, labels=None, **kw):  # another run submits between our check and ours
        if not osmo.standin.submissions:
            rival = spec_yaml.replace("FAKE_TRAIN_S: '5'", "FAKE_TRAIN_S: '30'")
            real_submit(pool, rival, labels={**labels, LABEL_RUN: "another-run"})
        return real_submit(pool, spec_yaml, labels=labels, **kw)

    backend.client.submit = racing_submit
    result, _ = _materialize(backend, _request(run_url, FAKE_TRAIN_S=5))
    assert not result.success
    assert "this launch withdrew OSMO workflow" in result.failure_data_for_node("policy").error.message
    rival, ours = _workflows(osmo)
    assert ours.done.wait(5) and ours.status == "FAILED_CANCELED"
    assert rival.status in ("PENDING", "RUNNING") and rival.labels[LABEL_RUN] == "another-run"


def test_jwts_expire_during_a_run_and_the_client_renews_them(osmo, run_url):
    osmo.standin.jwt_lifetime_s = 1.5  # one training outlives several JWTs
    result, _ = _materialize(_backend(osmo), _request(run_url, FAKE_TRAIN_S=4))
    assert result.success
    assert osmo.standin.jwts_issued >= 3


def test_an_auth_failure_while_waiting_fails_the_asset_naming_the_workflow(osmo, run_url):
    backend = _backend(osmo)
    real_sleep = time.sleep

    def revoke_mid_run(s):
        if _progress(run_url) >= 2 and osmo.standin.token == TOKEN:
            osmo.standin.token = "revoked"  # the access token was revoked: no new JWT ...
            osmo.standin._signing_key = b"rotated"  # ... and the current one is refused
        real_sleep(s)

    backend._sleep = revoke_mid_run
    result, _ = _materialize(backend, _request(run_url, FAKE_TRAIN_S=30))
    assert not result.success
    (wf,) = _workflows(osmo)
    message = result.failure_data_for_node("policy").error.message
    assert "OSMO login failed" in message and "Access Token is invalid" in message
    assert f"OSMO workflow {wf.name} may still be running and could not be stopped" in message
    assert TOKEN not in message


@pytest.mark.parametrize("pool", ["gpu-pool", "rescheduling-pool"])
def test_a_preemption_never_reruns_the_trainer_in_place(osmo, run_url, pool):
    """Pools that RESCHEDULE preempted tasks in place would rerun the same spec: no --resume, same Pipes session."""
    osmo.standin.inject_disruption("FAILED_PREEMPTED", when=lambda: _progress(run_url) >= 2)
    result, _ = _materialize(_backend(osmo, pool=pool), _request(run_url, FAKE_TRAIN_S=1))
    assert result.success
    first, second = _workflows(osmo)
    assert first.retry_id == 0 and (first.status, first.exit_code) == ("FAILED", 3006)
    assert "--resume" in second.spec_text and second.status == "COMPLETED"


def test_the_stand_in_reschedules_in_place_when_a_spec_sets_no_exit_actions(osmo, run_url):
    """The pool semantics the previous test relies on are real in the stand-in: without exitActions, in place."""
    import yaml

    backend = _backend(osmo, pool="rescheduling-pool")
    osmo.standin.inject_disruption("FAILED_PREEMPTED", when=lambda: _progress(run_url) >= 2)

    @dg.asset(partitions_def=PARTS)
    def policy(context):
        request = _request(run_url, FAKE_TRAIN_S=1)
        spec = yaml.safe_load(backend.render(request, launch_identity(context, request), {}, 1, False))
        del spec["workflow"]["tasks"][0]["exitActions"]
        name = backend.client.submit("rescheduling-pool", yaml.safe_dump(spec))["name"]
        while WorkflowStatus(backend.client.get(name)["status"]).alive:
            time.sleep(0.1)

    assert dg.materialize([policy], partition_key="cartpole").success
    (wf,) = _workflows(osmo)
    assert wf.retry_id == 1 and wf.status == "COMPLETED"
    assert any("[trainer retry-1] stdout line from the fake trainer (resume=False)" in line for line in wf.logs)


def test_a_container_config_error_fails_at_once_with_osmos_message(osmo, run_url):
    osmo.standin.config_error_s = 0.5  # OSMO waits 10 min before it gives up on CreateContainerConfigError
    backend = _backend(osmo, credentials={"blob": {"AZURE_STORAGE_CONNECTION_STRING": "no_such_key"}})
    result, _ = _materialize(backend, _request(run_url, FAKE_TRAIN_S=0.2))
    assert not result.success
    (wf,) = _workflows(osmo)
    assert wf.status == "FAILED_BACKEND_ERROR"
    message = result.failure_data_for_node("policy").error.message
    assert "ended FAILED_BACKEND_ERROR" in message
    assert "CreateContainerConfigError: couldn't find key no_such_key in Secret" in message


def test_jinja_in_a_task_config_reaches_the_task_unchanged(osmo, run_url):
    import hashlib

    config = "task: cartpole\ndescription: 'uses {{ braces }}, {% raw %} and {# hashes #}'\n"
    result, _ = _materialize(_backend(osmo), _request(run_url, config_yaml=config, FAKE_TRAIN_S=0.1))
    assert result.success, result.failure_data_for_node("policy").error.message
    mat = result.asset_materializations_for_node("policy")[0]
    assert mat.metadata["config_sha256"].value == hashlib.sha256(config.encode()).hexdigest()


def test_an_unescaped_template_is_refused_by_the_service(osmo):
    from robotics_assets.lib.osmo import OsmoError

    client = OsmoClient(osmo.url, token=TOKEN)
    spec = "workflow:\n  name: x\n  tasks:\n  - {name: t, image: i, command: [python], args: ['{{ undefined_var }}']}\n"
    with pytest.raises(OsmoError, match="Jinja Template Error") as e:
        client.submit("gpu-pool", spec)
    assert e.value.status_code == 400 and e.value.error_code == "USAGE"


def test_a_host_path_run_dir_never_reaches_the_test_disk(osmo, tmp_path):
    host_dir = tmp_path / "host-run"
    result, _ = _materialize(_backend(osmo), _request(str(host_dir), FAKE_TRAIN_S=0.1))
    assert result.success
    assert not host_dir.exists(), "an absolute path lands in the task's own scratch, removed with it"
    mat = result.asset_materializations_for_node("policy")[0]
    assert not os.path.exists(mat.metadata["cwd"].value)


def test_log_lines_arrive_with_osmos_prefixes(osmo, run_url):
    import re

    result, instance = _materialize(_backend(osmo), _request(run_url, FAKE_TRAIN_S=0.1))
    assert result.success
    logs = [e.user_message for e in instance.all_logs(result.run_id)]
    stamp = r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d"
    assert any(re.search(stamp + r" \[trainer\] stdout line from the fake trainer", m) for m in logs)
    assert any(re.search(stamp + r" \[trainer\]\[osmo\] Running trainer", m) for m in logs)
