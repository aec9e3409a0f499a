"""`champion_fresh_<region>`: one check per region that fails when a task's champion there is older than
`promotion.max_champion_age_days` or no longer meets its task's current success criteria (a stricter config)."""

import re
import time
from typing import Any

import dagster as dg

from robotics_assets.lib.partitions import task_partitions
from robotics_assets.lib.registry import MLflowRegistry
from robotics_assets.lib.settings import current_settings
from robotics_assets.lib.sweep_files import split_trial
from robotics_assets.lib.upstream import metadata_value

CHAMPIONS_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("task", "string"),
        dg.TableColumn("version", "string"),
        dg.TableColumn("age_days", "float"),
        dg.TableColumn("ok", "bool"),
        dg.TableColumn("problem", "string"),
    ]
)


def check_name(region: str) -> str:
    return "champion_fresh_" + re.sub(r"[^A-Za-z0-9_]", "_", region)


def current_criteria(instance: dg.DagsterInstance, task: str) -> dict[str, float]:
    """`{metric: minimum}` from the latest task_config snapshot's `success` section (`min_<metric>` keys)."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("task_config"), asset_partitions=[task]), limit=1
    ).records
    if not records or records[0].asset_materialization is None:
        return {}
    success = metadata_value(records[0].asset_materialization.metadata.get("success")) or {}
    return {k.removeprefix("min_"): float(v) for k, v in success.items() if k.startswith("min_") and v is not None}


def judge_champion(version: Any, criteria: dict[str, float], max_age_days: float | None,
                   now: float) -> tuple[float, list[str]]:
    """Age in days and what is wrong with this champion (nothing: an empty list)."""
    age_days = (now - version.creation_timestamp / 1000.0) / 86400.0
    tags = version.tags or {}
    problems = []
    if max_age_days is not None and age_days > max_age_days:
        problems.append(f"{age_days:.1f} days old (max {max_age_days:g}): retrain or re-evaluate")
    if tags.get("gate_passed") != "true":
        problems.append("its evaluation gate did not pass")
    for metric, minimum in sorted(criteria.items()):
        raw = tags.get(f"eval_{metric}")
        if raw in (None, ""):
            problems.append(f"no {metric} recorded with the model: the current gate cannot be judged")
        elif float(raw) < minimum:
            problems.append(f"{metric}={float(raw):.4g} < {minimum:g} required by the current task config")
    return age_days, problems


def build_champion_checks(regions: list[str]) -> dg.AssetChecksDefinition:
    specs = [
        dg.AssetCheckSpec(
            check_name(region),
            asset="deployed_policy",
            description=f"Every task's champion in {region}: younger than promotion.max_champion_age_days and "
            "still meeting the task's current success criteria.",
        )
        for region in regions
    ]
    by_name = {check_name(r): r for r in regions}

    @dg.multi_asset_check(specs=specs, can_subset=True, name="champion_checks")
    def champion_checks(context: dg.AssetCheckExecutionContext, mlflow: MLflowRegistry):
        max_age = current_settings().raw.promotion.max_champion_age_days
        # sweep trials register under their base task (deployed_policy), which is listed here
        tasks = sorted(t for t in context.instance.get_dynamic_partitions(task_partitions.name) if not split_trial(t))
        criteria = {task: current_criteria(context.instance, task) for task in tasks}
        now = time.time()
        for key in sorted(context.selected_asset_check_keys, key=lambda k: k.name):
            region = by_name[key.name]
            rows, failing = [], []
            for task in tasks:
                version = mlflow.champion(task, region)
                if version is None:
                    rows.append(dg.TableRecord({"task": task, "version": "", "age_days": None, "ok": True,
                                                "problem": "no champion yet"}))
                    continue
                age, problems = judge_champion(version, criteria[task], max_age, now)
                rows.append(dg.TableRecord({"task": task, "version": str(version.version), "age_days": round(age, 3),
                                            "ok": not problems, "problem": "; ".join(problems)}))
                if problems:
                    failing.append(f"{task} (v{version.version}): {'; '.join(problems)}")
            yield dg.AssetCheckResult(
                asset_key="deployed_policy",
                check_name=key.name,
                passed=not failing,
                description="; ".join(failing) or f"every champion in {region} is fresh and meets its gate",
                metadata={"champions": dg.MetadataValue.table(rows, schema=CHAMPIONS_SCHEMA),
                          "max_age_days": max_age, "region": region},
            )

    return champion_checks
