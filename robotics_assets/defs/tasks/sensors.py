"""`task_config_sensor`: discovers task configs, grows the task partitions, requests runs for new or changed ones."""


import json

import dagster as dg

from robotics_assets.defs.tasks.resources import TaskConfigStore
from robotics_assets.lib.partitions import task_partitions
from robotics_assets.lib.sweep_files import split_trial
from robotics_assets.lib.task_sources import (
    TaskConfigError,
    content_hash,
    validate_task_config,
)


def preview(names: list, limit: int = 5) -> str:
    return "[" + ", ".join(names[:limit]) + (f", ... +{len(names) - limit}" if len(names) > limit else "") + "]"


def build_task_config_sensor(minimum_interval_seconds: int = 30, running: bool = True) -> dg.SensorDefinition:
    @dg.sensor(
        name="task_config_sensor",
        target=[dg.AssetKey("task_config")],
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED,
        description="Watches the task-config location. Cursor: content hash per config, so an unchanged config "
        "never triggers twice; a removed config keeps its partition and history.",
    )
    def task_config_sensor(context: dg.SensorEvaluationContext, task_configs: TaskConfigStore):
        cursor: dict[str, dict[str, str]] = json.loads(context.cursor) if context.cursor else {}
        seen, invalid = cursor.get("seen", {}), cursor.get("invalid", {})
        try:
            source = task_configs.source()
            configs = source.list_configs()
        except TaskConfigError as e:
            return dg.SkipReason(str(e))

        present = {name for name, _ in configs}  # the cursor remembers only configs that still exist: it stays bounded
        seen = {k: v for k, v in seen.items() if k in present}
        invalid = {k: v for k, v in invalid.items() if k in present}
        known = set(context.instance.get_dynamic_partitions(task_partitions.name))
        new_partitions: list[str] = []
        run_requests: list[dg.RunRequest] = []
        for name, content in configs:
            sha = content_hash(content)
            if seen.get(name) == sha or invalid.get(name) == sha:
                continue
            try:
                if split_trial(name):
                    raise TaskConfigError(f"{source.location.rstrip('/')}/{name}.yaml: file name: '--tNN' names are "
                                          "reserved for sweep trials (rename the file, e.g. with one '-')")
                validate_task_config(name, content, location=source.location)
            except TaskConfigError as e:
                context.log.warning(f"skipping invalid task config: {e}")
                invalid[name] = sha
                continue
            invalid.pop(name, None)
            if name not in known:
                new_partitions.append(name)
            run_requests.append(
                dg.RunRequest(
                    run_key=f"{name}:{sha}",
                    asset_selection=[dg.AssetKey("task_config")],
                    partition_key=name,
                    tags={"robotics/task": name, "robotics/config_sha256": sha[:16]},
                )
            )
            seen[name] = sha

        if run_requests:
            changed = [r.partition_key for r in run_requests if r.partition_key not in new_partitions]
            context.log.info(
                f"{len(new_partitions)} new task config(s) {preview(new_partitions)}, "
                f"{len(changed)} changed {preview(changed)}"
            )
        return dg.SensorResult(
            run_requests=run_requests,
            dynamic_partitions_requests=[task_partitions.build_add_request(new_partitions)] if new_partitions else [],
            cursor=json.dumps({"seen": seen, "invalid": invalid}, sort_keys=True),
        )

    return task_config_sensor
