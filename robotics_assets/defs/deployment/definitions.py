import dagster as dg

from robotics_assets.defs.deployment.assets import (
    build_deployment_asset,
    registry_retry_policy,
)
from robotics_assets.defs.deployment.checks import build_champion_checks
from robotics_assets.lib.partitions import task_region_partitions
from robotics_assets.lib.settings import current_settings

# Champions age by the day; an hourly look is plenty and costs one registry query per task and region.
CHAMPION_CHECK_CRON = "0 * * * *"


@dg.definitions
def defs() -> dg.Definitions:
    settings = current_settings()
    retry = settings.raw.registry_retry
    checks = build_champion_checks(settings.regions)
    job = dg.define_asset_job("check_champions", selection=dg.AssetSelection.checks(checks))
    return dg.Definitions(
        assets=[build_deployment_asset(task_region_partitions(settings.regions),
                                       registry_retry_policy(retry.max_retries, retry.delay_s))],
        asset_checks=[checks],
        jobs=[job],
        schedules=[dg.ScheduleDefinition(
            name="check_champions", job=job, cron_schedule=CHAMPION_CHECK_CRON,
            default_status=dg.DefaultScheduleStatus.RUNNING if settings.raw.sensors_running
            else dg.DefaultScheduleStatus.STOPPED,
            description="Runs the champion_fresh_<region> checks: champion age and its gate under the current config.",
        )],
    )
