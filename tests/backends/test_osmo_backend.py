"""The OSMO backend end to end against the stand-in: Dagster -> OSMO client -> stand-in -> process -> Pipes.

These use a small Pipes-speaking fake trainer (tests/backends/fake_trainer.py) to exercise the control paths in
seconds; test_osmo_chain.py runs the real trainer.
"""

from __future__ import annotations

import time

import dagster as dg
import pytest
from dagster._core.errors import DagsterExecutionInterruptedError

from robotics_assets.lib.launch.base import LaunchRequest
from robotics_assets.lib.launch.osmo import OsmoBackend, OsmoOptions
from robotics_assets.lib.launch.remote import LABEL_RUN, launch_identity
from robotics_assets.lib.osmo import OsmoClient, WorkflowStatus
from robotics_assets.lib.osmo.spec import Resources
from tests.backends.conftest import TOKEN

PARTS = dg.StaticPartitionsDefinition(["cartpole"])


def _backend(osmo, **over) -> OsmoBackend:
    options = {"pool": "gpu-pool", "image": "crtest.azurecr.io/robotics-trainer:0.1.0", "module": "tests.backends.fake_trainer",
                   "resources": Resources(cpu=2, memory="8Gi", storage="10Gi"), "pipes": "local-files",
                   "poll_interval_s": 0.1, "credentials": {"blob": {"AZURE_STORAGE_CONNECTION_STRING": "connection_string"}}}
    options.update(over)
    return OsmoBackend(OsmoClient(osmo.url, token=TOKEN), OsmoOptions(**options))


def _request(tmp_path, **env) -> LaunchRequest:
    return LaunchRequest(task="cartpole", region="eastus", step="train", config_yaml="task: cartpole\n",
                         args=["--run-dir", str(tmp_path / "run")], env={k: str(v) for k, v in env.items()})


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


def test_success_brings_back_pipes_results_logs_and_spec(osmo, tmp_path):
    result, instance = _materialize(_backend(osmo), _request(tmp_path, FAKE_TRAIN_S=0.3))
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


def test_a_credential_the_task_prints_is_masked_in_the_dagster_log(osmo, tmp_path):
    from tests.backends.fake_trainer import PLANTED

    result, instance = _materialize(_backend(osmo), _request(tmp_path, FAKE_TRAIN_S=0.2, FAKE_LEAK=1))
    assert result.success
    logs = [e.user_message for e in instance.all_logs(result.run_id)]
    assert any("connecting with AccountKey=***" in m for m in logs), "the line arrives, masked"
    assert not any(PLANTED in m for m in logs)


def test_preemption_restarts_with_resume(osmo, tmp_path):
    progress = tmp_path / "run" / "progress.txt"
    osmo.standin.inject_disruption("FAILED_PREEMPTED",
                                   when=lambda: progress.exists() and int(progress.read_text() or 0) >= 3)
    result, _ = _materialize(_backend(osmo), _request(tmp_path, FAKE_TRAIN_S=1.5))
    assert result.success
    first, second = _workflows(osmo)
    assert first.status == "FAILED_PREEMPTED" and second.status == "COMPLETED"
    assert "--resume" not in first.spec_text and "--resume" in second.spec_text
    assert second.labels["robotics-attempt"] == "2"
    mat = result.asset_materializations_for_node("policy")[0]
    assert mat.metadata["resume_flag"].value is True and mat.metadata["resumed_from"].value > 0
    assert [a["status"] for a in mat.metadata["osmo_attempts"].value] == ["FAILED_PREEMPTED", "COMPLETED"]


@pytest.mark.parametrize("state", ["FAILED_EVICTED", "FAILED_BACKEND_ERROR"])
def test_other_disruptions_restart_too(osmo, tmp_path, state):
    progress = tmp_path / "run" / "progress.txt"  # strike mid-training by progress, not wall time (CI load)
    osmo.standin.inject_disruption(state, when=lambda: progress.exists() and int(progress.read_text() or 0) >= 2)
    result, _ = _materialize(_backend(osmo), _request(tmp_path, FAKE_TRAIN_S=1.5))
    assert result.success and [w.status for w in _workflows(osmo)] == [state, "COMPLETED"]


def test_application_failure_is_not_restarted(osmo, tmp_path):
    result, _ = _materialize(_backend(osmo), _request(tmp_path, FAKE_TRAIN_S=0.1, FAKE_EXIT=3))
    assert not result.success
    (wf,) = _workflows(osmo)
    assert wf.status == "FAILED"
    failure = result.failure_data_for_node("policy").error
    assert "ended FAILED" in failure.message and "exit code 3" in failure.message
    assert TOKEN not in failure.message


def test_restart_budget_is_bounded(osmo, tmp_path):
    for _ in range(3):
        osmo.standin.inject_disruption("FAILED_PREEMPTED", after_s=0.2)
    result, _ = _materialize(_backend(osmo, restart_budget=1), _request(tmp_path, FAKE_TRAIN_S=5))
    assert not result.success
    assert [w.status for w in _workflows(osmo)] == ["FAILED_PREEMPTED", "FAILED_PREEMPTED"]
    assert "restart budget exhausted" in result.failure_data_for_node("policy").error.message


def test_startup_timeout_cancels_a_workflow_stuck_in_the_queue(osmo, tmp_path):
    osmo.standin.inject_disruption("FAILED_QUEUE_TIMEOUT", hold_in_queue=True)
    result, _ = _materialize(_backend(osmo, startup_timeout_s=0.5), _request(tmp_path))
    assert not result.success
    assert "did not start within" in result.failure_data_for_node("policy").error.message
    (wf,) = _workflows(osmo)
    wf.done.wait(5)
    assert wf.status == "FAILED_CANCELED"


def test_terminating_the_run_cancels_the_workflow(osmo, tmp_path):
    backend = _backend(osmo)
    real_sleep = time.sleep

    def interrupting_sleep(s):  # Dagster delivers a run termination as this exception in the step's thread
        if any(w.status == "RUNNING" for w in osmo.standin.workflows.values()):
            raise DagsterExecutionInterruptedError()
        real_sleep(s)

    backend._sleep = interrupting_sleep
    result, _ = _materialize(backend, _request(tmp_path, FAKE_TRAIN_S=30))
    assert not result.success
    (wf,) = _workflows(osmo)
    assert wf.done.wait(5) and wf.status == "FAILED_CANCELED"
    assert wf.process.poll() is not None


def test_retried_run_takes_over_its_orphan_and_resumes(osmo, tmp_path):
    backend = _backend(osmo)
    request = _request(tmp_path, FAKE_TRAIN_S=0.3)
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


def test_same_partition_never_trains_twice(osmo, tmp_path):
    backend = _backend(osmo)
    request = _request(tmp_path, FAKE_TRAIN_S=0.3)
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


def test_secret_looking_env_is_refused(osmo, tmp_path):
    with pytest.raises(ValueError, match="AZURE_STORAGE_KEY.*looks like a secret"):
        _backend(osmo, env={"AZURE_STORAGE_KEY": "x"})


def test_of_two_racing_launches_the_later_workflow_withdraws(osmo, tmp_path):
    backend = _backend(osmo)
    real_submit = backend.client.submit

    def racing_submit(pool, spec_yaml, *, labels=None, **kw):  # another run submits between our check and ours
        if not osmo.standin.submissions:
            rival = spec_yaml.replace("FAKE_TRAIN_S: '5'", "FAKE_TRAIN_S: '30'")
            real_submit(pool, rival, labels={**labels, LABEL_RUN: "another-run"})
        return real_submit(pool, spec_yaml, labels=labels, **kw)

    backend.client.submit = racing_submit
    result, _ = _materialize(backend, _request(tmp_path, FAKE_TRAIN_S=5))
    assert not result.success
    assert "withdrew workflow" in result.failure_data_for_node("policy").error.message
    rival, ours = _workflows(osmo)
    assert ours.done.wait(5) and ours.status == "FAILED_CANCELED"
    assert rival.status in ("PENDING", "RUNNING") and rival.labels[LABEL_RUN] == "another-run"
