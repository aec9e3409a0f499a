"""`robotics_alerts`: a run-failure sensor that says when an evaluation gate or a training failed, in its log and
(when the environment variable named by `alerts.webhook_env` holds a URL) as a JSON POST to a webhook.

The payload has Slack's `text` plus the fields a receiver can route on. The webhook URL is a secret (Slack, Teams
and most receivers put the key in the path): it is read from the environment at evaluation time and never logged.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

import dagster as dg

from robotics_assets.lib.settings import current_settings

TASK_TAG, REGION_TAG = "dagster/partition/task", "dagster/partition/region"
GATE_FAILED, TRAINING_FAILED, STEP_FAILED = "evaluation_gate_failed", "training_failed", "step_failed"


@dataclass
class Alert:
    event: str
    text: str
    run_id: str
    asset: str | None = None
    task: str | None = None
    region: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def _plain(value: Any) -> Any:
    value = getattr(value, "value", value)
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


def gate_details(instance: dg.DagsterInstance, partition: str | None) -> dict[str, Any]:
    """The numbers the gate judged (the failed evaluation is materialized before its blocking check stops the run)."""
    if not partition:
        return {}
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("evaluation_report"), asset_partitions=[partition]), limit=1
    ).records
    if not records or records[0].asset_materialization is None:
        return {}
    meta = records[0].asset_materialization.metadata
    keep = ("passed", "mean_return", "mean_episode_length", "success_rate", "episodes")
    out = {k: _plain(meta[k]) for k in keep if k in meta}
    criteria = meta.get("criteria")
    if isinstance(criteria, dg.TableMetadataValue):
        out["criteria"] = [dict(r.data) for r in criteria.records]
    return out


def classify(context: dg.RunFailureSensorContext) -> list[Alert]:
    """One alert per failed step of the chain; a failed `evaluation_report` step with `passed: false` is the gate."""
    run = context.dagster_run
    task, region = run.tags.get(TASK_TAG), run.tags.get(REGION_TAG)
    partition = run.tags.get("dagster/partition")
    where = f"{task or '?'} in {region or '?'}"
    alerts: list[Alert] = []
    for event in context.get_step_failure_events():
        asset = event.step_key
        if asset == "policy":
            alerts.append(Alert(TRAINING_FAILED, f"training of {where} failed (run {run.run_id})", run.run_id,
                                asset, task, region, {"message": event.message}))
        elif asset == "evaluation_report":
            details = gate_details(context.instance, partition)
            if details.get("passed") is False:
                alerts.append(Alert(GATE_FAILED, f"evaluation gate of {where} failed: the policy misses the task's "
                                    f"success criteria (run {run.run_id})", run.run_id, asset, task, region, details))
            else:
                alerts.append(Alert(STEP_FAILED, f"evaluation of {where} failed (run {run.run_id})", run.run_id,
                                    asset, task, region, {"message": event.message}))
        else:
            alerts.append(Alert(STEP_FAILED, f"{asset} of {where} failed (run {run.run_id})", run.run_id, asset,
                                task, region, {"message": event.message}))
    if not alerts:  # the run died outside any step (a crashed worker, a failed launch)
        alerts.append(Alert(STEP_FAILED, f"run {run.run_id} for {where} failed: {context.failure_event.message}",
                            run.run_id, None, task, region))
    return alerts


def post(alert: Alert, env_name: str, timeout_s: float, log) -> bool:
    """POST the alert to the webhook in `env_name`; False (logged without the URL) when it did not arrive."""
    import requests

    url = os.environ.get(env_name, "").strip()
    if not url:
        return False
    try:
        response = requests.post(url, json=asdict(alert), timeout=timeout_s)
    except requests.RequestException as e:
        log.warning(f"alert webhook (${env_name}) unreachable: {type(e).__name__}")
        return False
    if not response.ok:
        log.warning(f"alert webhook (${env_name}) answered HTTP {response.status_code}")
        return False
    return True


def build_alert_sensor(running: bool = True) -> dg.RunFailureSensorDefinition:
    @dg.run_failure_sensor(
        name="robotics_alerts",
        default_status=dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED,
        minimum_interval_seconds=30,
        description="Alerts (sensor log + the webhook in $<alerts.webhook_env>) when a training or an evaluation "
        "gate fails.",
    )
    def robotics_alerts(context: dg.RunFailureSensorContext) -> None:
        settings = current_settings().raw.alerts
        for alert in classify(context):
            context.log.error(f"[alert] {alert.event}: {alert.text}")
            post(alert, settings.webhook_env, settings.timeout_s, context.log)

    return robotics_alerts
