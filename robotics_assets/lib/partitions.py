"""Partitions: task (dynamic, grown by the task-config sensor) × region (static, from the deployment settings)."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

TASK_DIM = "task"
REGION_DIM = "region"

# One key per task config; partitions are only ever added, so removing a config never deletes history.
task_partitions = dg.DynamicPartitionsDefinition(name=TASK_DIM)
# One key per sweep file (its trials are task partitions `<sweep>--tNN`), grown by the sweep sensor.
sweep_partitions = dg.DynamicPartitionsDefinition(name="sweep")


def task_region_partitions(regions: Sequence[str]) -> dg.MultiPartitionsDefinition:
    """Per task × region. Built when definitions load, because the region list comes from configuration."""
    return dg.MultiPartitionsDefinition(
        {TASK_DIM: task_partitions, REGION_DIM: region_partitions(regions)}
    )


def region_partitions(regions: Sequence[str]) -> dg.StaticPartitionsDefinition:
    """Per region (the infrastructure a region's training runs on)."""
    return dg.StaticPartitionsDefinition(list(regions))


# A task × region asset reads the one task (or region) partition it belongs to. Dagster infers that mapping when the
# upstream's partitions are one dimension of the downstream's (same definition), so a plain dependency says it; the
# explicit `MultiToSingleDimensionPartitionMapping` is a beta API.


def task_region(context: dg.AssetExecutionContext) -> tuple[str, str]:
    key = context.partition_key
    if not isinstance(key, dg.MultiPartitionKey):  # string form is "region|task" (dimensions sorted by name)
        key = context.assets_def.partitions_def.get_partition_key_from_str(key)  # type: ignore[union-attr]
    dims = key.keys_by_dimension
    return dims[TASK_DIM], dims[REGION_DIM]
