import dagster as dg

from robotics_assets.defs.sweeps.assets import build_sweep_report_asset
from robotics_assets.defs.sweeps.sensors import build_sweep_sensor, sweep_jobs
from robotics_assets.lib.settings import current_settings


@dg.definitions
def defs() -> dg.Definitions:
    settings = current_settings()
    jobs = sweep_jobs()
    return dg.Definitions(
        assets=[build_sweep_report_asset()],
        jobs=jobs,
        sensors=[build_sweep_sensor(jobs, settings.raw.sensor_interval_s, settings.raw.sensors_running)],
    )
