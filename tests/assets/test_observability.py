"""What a Dagster user watches: alerts on a failed gate or training (log + a webhook on 127.0.0.1), the per-region
champion checks, the evaluation criteria as a table, URIs as paths, and the trainer's code version on its assets."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import pytest
import yaml

from robotics_assets.lib.code_version import source_hash, trainer_code_version
from tests.assets.conftest import (
    CHAIN,
    ROOT,
    add_task,
    latest,
    load_defs,
    materialize,
    mkey,
    task_yaml,
    write_settings,
)

SECRET_PATH = "/services/T000/B000/s3cr3t-webhook-key"


class Webhook:
    """A real HTTP receiver on 127.0.0.1 that records what it was sent and answers `status`."""

    def __init__(self, status: int = 200, delay_s: float = 0.0):
        self.received: list[tuple[str, dict]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append((self.path, json.loads(body)))
                time.sleep(delay_s)
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{SECRET_PATH}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook(monkeypatch):
    hook = Webhook()
    monkeypatch.setenv("ROBOTICS_ALERT_WEBHOOK_URL", hook.url)
    yield hook
    hook.close()


def run_alert_sensor(defs, instance, result):
    sensor = defs.get_repository_def().get_sensor_def("robotics_alerts")
    context = dg.build_run_status_sensor_context(
        sensor_name="robotics_alerts", dagster_event=result.get_run_failure_event(), dagster_instance=instance,
        dagster_run=result.dagster_run,
    ).for_run_failure()
    sensor(context)


def test_failed_gate_alerts_with_the_numbers(standin_project, instance, monkeypatch, webhook, capfd):
    defs = load_defs()
    add_task(instance, standin_project, "gatealert", task_yaml("gatealert", success={"min_mean_return": 100.0}))
    monkeypatch.setenv("STANDIN_MEAN_RETURN", "5.0")
    materialize(defs, instance, ["task_config"], "gatealert")
    result = materialize(defs, instance, CHAIN, mkey("gatealert", "eastus"), raise_on_error=False)
    assert not result.success
    capfd.readouterr()

    run_alert_sensor(defs, instance, result)
    log = capfd.readouterr().err
    assert len(webhook.received) == 1
    path, alert = webhook.received[0]
    assert path == SECRET_PATH
    assert alert["event"] == "evaluation_gate_failed" and alert["task"] == "gatealert" and alert["region"] == "eastus"
    assert alert["run_id"] == result.run_id and "gatealert in eastus" in alert["text"]
    assert alert["details"]["criteria"] == [
        {"metric": "mean_return", "op": ">=", "threshold": 100.0, "value": 5.0, "met": False}
    ]
    assert "[alert] evaluation_gate_failed" in log and SECRET_PATH not in log


def test_failed_training_alerts_and_a_failing_webhook_is_logged_without_its_url(standin_project, instance,
                                                                               monkeypatch, capfd):
    hook = Webhook(status=500)
    monkeypatch.setenv("ROBOTICS_ALERT_WEBHOOK_URL", hook.url)
    try:
        defs = load_defs()
        add_task(instance, standin_project, "trainalert", task_yaml("trainalert"))
        materialize(defs, instance, ["task_config"], "trainalert")
        monkeypatch.setenv("STANDIN_FAIL_TRAIN", "1")
        result = materialize(defs, instance, ["policy"], mkey("trainalert", "westeurope"), raise_on_error=False)
        assert not result.success
        capfd.readouterr()
        run_alert_sensor(defs, instance, result)
        log = capfd.readouterr().err
    finally:
        hook.close()
    assert [a["event"] for _, a in hook.received] == ["training_failed"]
    assert hook.received[0][1]["region"] == "westeurope"
    assert "[alert] training_failed: training of trainalert in westeurope failed" in log
    assert "alert webhook ($ROBOTICS_ALERT_WEBHOOK_URL) answered HTTP 500" in log
    assert SECRET_PATH not in log and hook.url not in log


def test_without_a_webhook_alerts_go_to_the_log_only(standin_project, instance, monkeypatch, capfd):
    monkeypatch.delenv("ROBOTICS_ALERT_WEBHOOK_URL", raising=False)
    defs = load_defs()
    add_task(instance, standin_project, "logalert", task_yaml("logalert"))
    materialize(defs, instance, ["task_config"], "logalert")
    monkeypatch.setenv("STANDIN_FAIL_TRAIN", "1")
    result = materialize(defs, instance, ["policy"], mkey("logalert", "eastus"), raise_on_error=False)
    capfd.readouterr()
    run_alert_sensor(defs, instance, result)
    assert "[alert] training_failed" in capfd.readouterr().err


def test_webhook_env_and_timeout_come_from_the_settings(standin_project, instance, monkeypatch, capfd):
    settings = standin_project / "settings.yaml"
    data = yaml.safe_load(settings.read_text())
    settings.write_text(yaml.safe_dump({**data, "alerts": {"webhook_env": "TEAM_HOOK", "timeout_s": 0.5}}))
    delay_s = 20  # far beyond the 0.5 s timeout, and beyond what a busy 2-core machine adds to the sensor tick
    slow = Webhook(delay_s=delay_s)
    monkeypatch.delenv("ROBOTICS_ALERT_WEBHOOK_URL", raising=False)
    monkeypatch.setenv("TEAM_HOOK", slow.url)
    try:
        defs = load_defs()
        add_task(instance, standin_project, "hookenv", task_yaml("hookenv"))
        materialize(defs, instance, ["task_config"], "hookenv")
        monkeypatch.setenv("STANDIN_FAIL_TRAIN", "1")
        result = materialize(defs, instance, ["policy"], mkey("hookenv", "eastus"), raise_on_error=False)
        capfd.readouterr()
        started = time.time()
        run_alert_sensor(defs, instance, result)
        elapsed = time.time() - started
        log = capfd.readouterr().err
    finally:
        slow.close()
    assert [a["event"] for _, a in slow.received] == ["training_failed"]  # sent to $TEAM_HOOK
    assert "alert webhook ($TEAM_HOOK) unreachable: ReadTimeout" in log and elapsed < delay_s
    assert SECRET_PATH not in log


def check_champions(defs, instance) -> dict[str, dg.AssetCheckEvaluation]:
    result = defs.resolve_job_def("check_champions").execute_in_process(instance=instance, raise_on_error=False)
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_champion_check_per_region_fails_when_stale_or_gate_no_longer_met(standin_project, instance, monkeypatch):
    defs = load_defs()
    add_task(instance, standin_project, "champ", task_yaml("champ", success={"min_mean_return": 1.0}))
    monkeypatch.setenv("STANDIN_MEAN_RETURN", "5.0")
    materialize(defs, instance, ["task_config"], "champ")
    materialize(defs, instance, CHAIN, mkey("champ", "eastus"))

    fresh = check_champions(defs, instance)
    assert set(fresh) == {"champion_fresh_eastus", "champion_fresh_westeurope"}
    assert fresh["champion_fresh_eastus"].passed and fresh["champion_fresh_westeurope"].passed
    rows = {r.data["task"]: r.data for r in fresh["champion_fresh_eastus"].metadata["champions"].records}
    assert rows["champ"]["ok"] is True and rows["champ"]["version"]
    assert {r.data["task"]: r.data for r in fresh["champion_fresh_westeurope"].metadata["champions"].records}[
        "champ"]["problem"] == "no champion yet"

    # a stricter config: the champion's recorded mean_return no longer meets the gate
    (standin_project / "task_configs" / "champ.yaml").write_text(task_yaml("champ", success={"min_mean_return": 9.0}))
    materialize(defs, instance, ["task_config"], "champ")
    stricter = check_champions(defs, instance)["champion_fresh_eastus"]
    assert not stricter.passed and "mean_return=5 < 9 required by the current task config" in stricter.description

    # an age limit the champion exceeds (settings read when the check runs)
    (standin_project / "task_configs" / "champ.yaml").write_text(task_yaml("champ", success={"min_mean_return": 1.0}))
    materialize(defs, instance, ["task_config"], "champ")
    settings = standin_project / "settings.yaml"
    data = yaml.safe_load(settings.read_text())
    settings.write_text(yaml.safe_dump({**data, "promotion": {"max_champion_age_days": 1e-9}}))
    old = check_champions(defs, instance)["champion_fresh_eastus"]
    assert not old.passed and "days old (max 1e-09)" in old.description


def test_evaluation_criteria_table_uri_paths_and_code_version(standin_project, instance, monkeypatch):
    defs = load_defs()
    add_task(instance, standin_project, "meta", task_yaml("meta", success={"min_mean_return": 1.0}))
    monkeypatch.setenv("STANDIN_MEAN_RETURN", "5.0")
    materialize(defs, instance, ["task_config"], "meta")
    key = mkey("meta", "eastus")
    result = materialize(defs, instance, ["policy", "evaluation_report", "onnx_policy"], key)

    gate = next(e for e in result.get_asset_check_evaluations() if e.check_name == "evaluation_gate")
    assert not any(k.startswith("threshold_") for k in gate.metadata)
    table = gate.metadata["criteria"]
    assert isinstance(table, dg.TableMetadataValue)
    assert [r.data for r in table.records] == [
        {"metric": "mean_return", "op": ">=", "threshold": 1.0, "value": 5.0, "met": True}
    ]

    def raw(asset):
        rec = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[str(key)]), limit=1).records[0]
        return rec.asset_materialization

    assert isinstance(raw("evaluation_report").metadata["criteria"], dg.TableMetadataValue)
    assert isinstance(raw("evaluation_report").metadata["report_path"], dg.PathMetadataValue)
    assert isinstance(raw("onnx_policy").metadata["onnx_uri"], dg.PathMetadataValue)
    assert isinstance(raw("policy").metadata["checkpoint_uri"], dg.PathMetadataValue)
    assert latest(instance, "onnx_policy", key)["onnx_uri"].endswith("policy.onnx")  # downstream reads the same text

    version = trainer_code_version()
    assert version and all(raw(a).tags.get("dagster/code_version") == version
                           for a in ("policy", "evaluation_report", "onnx_policy"))


def test_trainer_code_version_follows_its_sources(tmp_path):
    import shutil

    copy = tmp_path / "trainer"
    shutil.copytree(ROOT / "trainer", copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = source_hash(copy)
    assert before == source_hash(ROOT / "trainer")  # the location of the checkout does not matter
    (copy / "train.py").write_text((copy / "train.py").read_text() + "\n# changed\n")
    assert source_hash(copy) != before


def test_registry_step_retries_an_mlflow_outage_with_backoff(tmp_path, monkeypatch, instance):
    """MLflow unreachable: deployed_policy is retried `registry_retry.max_retries` times, then fails."""
    from tests.assets.conftest import write_settings

    path = write_settings(tmp_path, standin=True, mlflow_tracking_uri="http://127.0.0.1:9",  # discard port: refused
                          registry_retry={"max_retries": 2, "delay_s": 0.01})
    monkeypatch.setenv("ROBOTICS_SETTINGS", str(path))
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # MLflow's own retries would hide ours
    defs = load_defs()
    assert defs.get_assets_def("deployed_policy").op.retry_policy.backoff == dg.Backoff.EXPONENTIAL
    add_task(instance, tmp_path, "outage", task_yaml("outage"))
    materialize(defs, instance, ["task_config"], "outage")
    key = mkey("outage", "eastus")
    materialize(defs, instance, ["policy", "evaluation_report", "onnx_policy"], key)
    result = materialize(defs, instance, ["deployed_policy"], key, raise_on_error=False)
    assert not result.success
    retries = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
    assert len(retries) == 2


@pytest.mark.parametrize(("refs", "expected"), [
    ({}, None),  # local file links
    ({"git_url": "https://github.com/org/robotics", "git_branch": "release"},
     "https://github.com/org/robotics/tree/release/robotics_assets/defs/training/assets.py"),
    ({"git_url": "https://git.example.com/org/robotics", "git_branch": "main", "platform": "gitlab"},
     "https://git.example.com/org/robotics/-/tree/main/robotics_assets/defs/training/assets.py"),
])
def test_code_references_follow_the_settings(tmp_path, monkeypatch, refs, expected):
    """`code_references.git_url / git_branch / platform` each change the policy asset's source link in the UI."""
    extra = {"code_references": refs} if refs else {}
    monkeypatch.setenv("ROBOTICS_SETTINGS", str(write_settings(tmp_path, standin=True, **extra)))
    spec = next(s for s in load_defs().resolve_all_asset_specs() if s.key == dg.AssetKey("policy"))
    (ref,) = spec.metadata["dagster/code_references"].code_references
    if expected is None:
        assert isinstance(ref, dg.LocalFileCodeReference)
        assert ref.file_path.endswith("robotics_assets/defs/training/assets.py")
    else:
        assert isinstance(ref, dg.UrlCodeReference) and ref.url.startswith(expected + "#L")
