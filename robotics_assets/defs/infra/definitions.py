"""Infrastructure domain: the per-region platform as an observed asset upstream of training.

Interface for the root definitions (kept tiny on purpose; no module-level definitions, so `load_from_defs_folder`
loads nothing from here by itself):

    build_infra_defs(region_partitions, regions_file) -> dg.Definitions

- `region_partitions`: the region-only partitions definition, with the same keys as the region dimension of the
  task × region partitions (a `StaticPartitionsDefinition` of the enabled regions).
- `regions_file`: the settings' regions file (`terraform output -json regions`), read only when observing.

It returns the observable source asset `region_infrastructure` (partitioned by region), the resource
`terraform_outputs`, and the schedule `observe_region_infrastructure`. A training asset partitioned by task × region
declares `deps=["region_infrastructure"]` (Dagster infers the mapping onto the region dimension); a new data version
of a region then marks its policies stale.
"""

from __future__ import annotations

from os import PathLike

import dagster as dg

from robotics_assets.defs.infra.assets import (
    REGION_INFRASTRUCTURE,
    build_region_infrastructure,
)
from robotics_assets.defs.infra.resources import TerraformOutputs

# Terraform applies are rare and deliberate; a quarter-hour lag before policies turn stale is plenty.
OBSERVE_CRON = "*/15 * * * *"


def build_infra_defs(
    region_partitions: dg.PartitionsDefinition, regions_file: str | PathLike[str], cron: str = OBSERVE_CRON
) -> dg.Definitions:
    asset = build_region_infrastructure(region_partitions)
    observe = dg.define_asset_job("observe_region_infrastructure", selection=[REGION_INFRASTRUCTURE])
    return dg.Definitions(
        assets=[asset],
        jobs=[observe],
        schedules=[
            dg.ScheduleDefinition(
                name="observe_region_infrastructure",
                job=observe,
                cron_schedule=cron,
                default_status=dg.DefaultScheduleStatus.RUNNING,
                description="Re-reads the Terraform outputs file; a changed region output marks its policies stale.",
            )
        ],
        resources={"terraform_outputs": TerraformOutputs(regions_file=str(regions_file))},
    )
