"""`task_config`: the validated YAML snapshot of one task; its data version is the content hash."""


import dagster as dg

from robotics_assets.defs.tasks.resources import TaskConfigStore
from robotics_assets.lib.partitions import task_partitions
from robotics_assets.lib.sweep_files import SweepError, split_trial
from robotics_assets.lib.task_sources import TaskConfigError, validate_task_config


def build_task_config_asset() -> dg.AssetsDefinition:
    @dg.asset(
        partitions_def=task_partitions,
        group_name="tasks",
        kinds={"yaml"},
        description="Validated snapshot of a task config. Data version = sha256 of the file, so an edit makes "
        "every policy, report and model of the task stale.",
    )
    def task_config(context: dg.AssetExecutionContext, task_configs: TaskConfigStore) -> dg.MaterializeResult:
        name = context.partition_key
        trial_meta: dict = {}
        try:
            if split_trial(name):  # a sweep trial: its sweep file + base config, resolved
                content, location, trial_meta = resolved_trial(task_configs, name)
            else:
                source = task_configs.source()
                content, location = source.read(name), source.location
            valid = validate_task_config(name, content, location=location)
        except (TaskConfigError, SweepError) as e:
            raise dg.Failure(description=str(e), allow_retries=False) from None
        snapshot = task_configs.snapshot_path(name, valid.sha256)
        if not snapshot.exists():  # write-then-rename: a reader never sees half a file
            from trainer.files import atomic_write_bytes

            atomic_write_bytes(snapshot, content)
        return dg.MaterializeResult(
            data_version=dg.DataVersion(valid.sha256),
            metadata={
                "sha256": valid.sha256,
                "snapshot_path": dg.MetadataValue.path(str(snapshot)),
                "source": location,
                "config": dg.MetadataValue.md(f"```yaml\n{content.decode(errors='replace')}\n```"),
                **{k: v if isinstance(v, (int, float, str, bool)) else dg.MetadataValue.json(v)
                   for k, v in {**valid.summary, **trial_meta}.items()},
            },
        )

    return task_config


def resolved_trial(task_configs: TaskConfigStore, name: str) -> tuple[bytes, str, dict]:
    """A trial's task config (base + its parameters) and the sweep metadata the policy asset reads."""
    parsed = split_trial(name)
    assert parsed is not None
    sweep = task_configs.sweep(parsed[0])
    trial = next((t for t in sweep.trials if t.name == name), None)
    if trial is None:
        raise SweepError(f"{sweep.location}/{sweep.name}.yaml: has {len(sweep.trials)} trials now; {name} is not "
                         "one of them (the sweep file changed: its current trials are "
                         f"{', '.join(t.name for t in sweep.trials)})")
    meta = {**sweep.summary(), "trial_params": trial.params, "trial_region": trial.region}
    return trial.config_yaml.encode(), f"{sweep.location}/{sweep.name}.yaml", meta
