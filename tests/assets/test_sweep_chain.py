"""A REAL sweep end to end: the shipped `task_configs/sweeps/inverted_pendulum_lr.yaml` (4 InvertedPendulum trials
over two regions, trained by the real trainer on CPU, ~8 s each), driven tick by tick through `sweep_sensor` as the
daemon would: trial configs, trainings (the 1e-6 learning rate is stopped early by the median rule), the report,
and the winner through the evaluation gate, export and promotion under the base task's registered model."""

from pathlib import Path

import dagster as dg
import pytest

from robotics_assets.defs.sweeps.sensors import (
    CONFIG_JOB,
    REPORT_JOB,
    TRAIN_JOB,
    WINNER_JOB,
)
from tests.assets.conftest import ROOT, latest, load_defs, mkey, write_settings

SWEEP = "inverted_pendulum_lr"
TRIALS = [f"{SWEEP}--t0{i}" for i in range(4)]

pytestmark = pytest.mark.timeout(600)


@pytest.fixture
def sweep_project(tmp_path, monkeypatch, mlflow_db):
    monkeypatch.setenv("ROBOTICS_SETTINGS", str(write_settings(tmp_path, standin=False, mlflow_db=mlflow_db)))
    monkeypatch.delenv("ROBOTICS_DATA_DIR", raising=False)
    (tmp_path / "task_configs" / "sweeps").mkdir(parents=True)
    for rel in ("inverted_pendulum.yaml", f"sweeps/{SWEEP}.yaml"):  # as shipped
        (tmp_path / "task_configs" / rel).write_text((ROOT / "task_configs" / rel).read_text())
    return tmp_path


def tick(defs: dg.Definitions, instance, cursor):
    """One sensor evaluation, with its dynamic partitions applied as the daemon applies them."""
    sensor = defs.get_sensor_def("sweep_sensor")
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=defs.resources,
                                 definitions=defs) as context:
        result = sensor(context)
    for req in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
    return result


def run(defs: dg.Definitions, instance, request: dg.RunRequest) -> dg.ExecuteInProcessResult:
    job = defs.resolve_job_def(request.job_name)
    return job.execute_in_process(instance=instance, partition_key=request.partition_key, tags=request.tags,
                                  raise_on_error=False)


@pytest.mark.slow
def test_sweep_trains_stops_the_loser_reports_and_promotes_the_winner(sweep_project, instance):
    defs = load_defs()
    first = tick(defs, instance, None)
    assert set(instance.get_dynamic_partitions("task")) == set(TRIALS)
    assert instance.get_dynamic_partitions("sweep") == [SWEEP]
    assert [(r.job_name, r.partition_key) for r in first.run_requests] == [(CONFIG_JOB, t) for t in TRIALS]
    for req in first.run_requests:
        assert run(defs, instance, req).success
    config = latest(instance, "task_config", TRIALS[3])
    assert config["trial_params"] == {"agent.overrides.agent.learning_rate": 1e-06}
    assert "learning_rate: 1.0e-06" in config["config"] and "learning_rate_scheduler: null" in config["config"]

    second = tick(defs, instance, first.cursor)
    regions = ["eastus", "westeurope", "eastus", "westeurope"]  # round-robin over the settings' regions
    assert [(r.job_name, r.partition_key) for r in second.run_requests] == [
        (TRAIN_JOB, str(mkey(t, r))) for t, r in zip(TRIALS, regions, strict=True)]
    assert tick(defs, instance, second.cursor).run_requests == []  # requested once, not every tick
    for req in second.run_requests:  # in order, as a one-run-per-region queue would: t03 meets 2 completed trials
        assert run(defs, instance, req).success
    policies = [latest(instance, "policy", mkey(t, r)) for t, r in zip(TRIALS, regions, strict=True)]
    assert [p["trial_status"] for p in policies] == ["completed", "completed", "completed", "stopped"]
    stopped = policies[3]
    assert "median stopping rule at timestep" in stopped["stopped_reason"]
    assert max(t for t, _ in stopped["metric_curve"]) < 2560  # it did not train to the end
    checkpoint = Path(stopped["checkpoint_uri"])  # kept, and it is what the manifest recorded
    from trainer.files import sha256_file
    assert checkpoint.is_file() and sha256_file(checkpoint) == stopped["checkpoint_sha256"]
    assert all(p["gpu_hours"] == 0 and "metric_value" in p for p in policies)
    for p in policies[:3]:  # the whole streamed curve, its last point the trainer's own final mean return
        assert max(t for t, _ in p["metric_curve"]) == 2560
        assert p["metric_value"] == pytest.approx(p["final_mean_return"])

    third = tick(defs, instance, second.cursor)
    assert [(r.job_name, r.partition_key) for r in third.run_requests] == [(REPORT_JOB, SWEEP)]
    assert run(defs, instance, third.run_requests[0]).success
    report = latest(instance, "sweep_report", SWEEP)
    completed = {t: p["metric_value"] for t, p in zip(TRIALS, policies, strict=True) if p["trial_status"] == "completed"}
    assert report["best_trial"] == max(completed, key=completed.get)
    assert (report["trials_completed"], report["trials_stopped"], report["trials_missing"]) == (3, 1, 0)
    rows = {r.data["trial"]: r.data for r in report["trials"].records}
    assert rows[TRIALS[3]]["status"] == "stopped" and rows[TRIALS[0]]["status"] == "completed"
    assert report["metric_curves"].startswith("![metric curves](data:image/png;base64,")
    assert report["params_vs_metric"].startswith("![parameter vs metric](data:image/png;base64,")

    fourth = tick(defs, instance, third.cursor)
    assert [(r.job_name, r.partition_key) for r in fourth.run_requests] == [(WINNER_JOB, report["best_partition"])]
    winner = run(defs, instance, fourth.run_requests[0])
    evaluation = latest(instance, "evaluation_report", report["best_partition"])
    gate = [e for e in winner.get_asset_check_evaluations() if e.check_name == "evaluation_gate"]
    assert [e.passed for e in gate] == [evaluation["passed"]]
    if evaluation["passed"]:  # the winner competes with the base task's champion
        deployed = latest(instance, "deployed_policy", report["best_partition"])
        from robotics_assets.lib.registry import MLflowRegistry

        assert deployed["registered_model"] == MLflowRegistry().registered_model_name("inverted_pendulum")
        assert deployed["promoted"] is True
    assert tick(defs, instance, fourth.cursor).run_requests == []

    # automation never trains, evaluates or exports a trial (the other region of each trial is "missing")
    evaluation_tick = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert not any(r.true_subset.size for r in evaluation_tick.results)
