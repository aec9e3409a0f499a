import dagster as dg

from robotics_assets.defs.tasks.assets import build_task_config_asset
from robotics_assets.defs.tasks.resources import TaskConfigStore
from robotics_assets.defs.tasks.sensors import build_task_config_sensor
from robotics_assets.lib.settings import current_settings


@dg.definitions
def defs() -> dg.Definitions:
    settings = current_settings()
    return dg.Definitions(
        assets=[build_task_config_asset()],
        sensors=[build_task_config_sensor(settings.raw.sensor_interval_s, settings.raw.sensors_running)],
        resources={"task_configs": TaskConfigStore()},
    )
