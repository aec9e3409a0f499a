"""Root of the code location: domain definitions from `defs/`, plus cross-cutting policy applied once here."""

import warnings
from pathlib import Path

import dagster as dg

from robotics_assets.defs.infra.definitions import build_infra_defs
from robotics_assets.lib.automation import conditions
from robotics_assets.lib.launch import TrainerLauncher
from robotics_assets.lib.partitions import region_partitions
from robotics_assets.lib.registry import MLflowRegistry
from robotics_assets.lib.secrets import install_process_redaction
from robotics_assets.lib.settings import current_settings

PACKAGE_DIR = Path(__file__).resolve().parent


def automation_sensor(running: bool) -> dg.AutomationConditionSensorDefinition:
    return dg.AutomationConditionSensorDefinition(
        "robotics_automation",
        target=dg.AssetSelection.all(),
        default_status=dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED,
        minimum_interval_seconds=30,
        description="Evaluates the assets' automation conditions: training on new/changed task configs, then "
        "evaluation, export and deployment.",
    )


@dg.definitions
def defs() -> dg.Definitions:
    install_process_redaction()  # every log record of this code location's processes, before anything logs
    automation = conditions()
    with warnings.catch_warnings():  # map_asset_specs is a preview API; it is exactly the tool for this
        warnings.simplefilter("ignore", dg.PreviewWarning)
        domains = dg.load_from_defs_folder(path_within_project=PACKAGE_DIR).map_asset_specs(
            func=lambda spec: spec.replace_attributes(automation_condition=automation[spec.key.to_user_string()])
            if spec.key.to_user_string() in automation
            else spec,
        )
    settings = current_settings()
    # infra builds its region asset from the same region list (it has no module-level definitions of its own)
    infra = build_infra_defs(region_partitions(settings.regions), settings.regions_file)
    return dg.Definitions.merge(
        domains,
        infra,
        dg.Definitions(
            sensors=[automation_sensor(settings.raw.sensors_running)],
            resources={"launcher": TrainerLauncher(), "mlflow": MLflowRegistry()},
        ),
    )
