"""Root of the code location: domain definitions from `defs/`, plus cross-cutting policy applied once here
(automation conditions, owners, the trainer's code version, links from each asset to its source)."""

import warnings
from collections.abc import Sequence
from pathlib import Path

import dagster as dg

from robotics_assets.defs.infra.definitions import build_infra_defs
from robotics_assets.lib.alerts import build_alert_sensor
from robotics_assets.lib.automation import conditions
from robotics_assets.lib.code_version import trainer_code_version
from robotics_assets.lib.launch import TrainerLauncher
from robotics_assets.lib.partitions import region_partitions
from robotics_assets.lib.registry import MLflowRegistry
from robotics_assets.lib.secrets import install_process_redaction
from robotics_assets.lib.settings import Settings, current_settings

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent

# What the trainer package computes: its sources are these assets' code (lib/code_version.py).
TRAINER_BUILT = {"policy", "evaluation_report", "onnx_policy"}


def automation_sensor(running: bool) -> dg.AutomationConditionSensorDefinition:
    return dg.AutomationConditionSensorDefinition(
        "robotics_automation",
        target=dg.AssetSelection.all(),
        default_status=dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED,
        minimum_interval_seconds=30,
        use_user_code_server=True,  # lib/automation.SweepTrial is Python of this code location
        description="Evaluates the assets' automation conditions: training on new/changed task configs, then "
        "evaluation, export and deployment (sweep trials excepted: the sweep sensor runs those).",
    )


def apply_policy(assets: Sequence, settings: Settings) -> list:
    """Automation, owners and code versions on every asset (`dg.map_asset_specs`), then code references."""
    automation = conditions()
    code_version = trainer_code_version()

    def policy(spec: dg.AssetSpec) -> dg.AssetSpec:
        name = spec.key.to_user_string()
        changes: dict = {"owners": settings.raw.owners}
        if name in automation:
            changes["automation_condition"] = automation[name]
        if name in TRAINER_BUILT and code_version:
            changes["code_version"] = code_version
        return spec.replace_attributes(**changes)

    return link_to_source([*dg.map_asset_specs(policy, [a for a in assets if not isinstance(a, dg.SourceAsset)]),
                           *[a for a in assets if isinstance(a, dg.SourceAsset)]], settings)


def link_to_source(assets: Sequence, settings: Settings) -> list:
    """Each asset links to the function that builds it: a local file, or the repository when `code_references.git_url`
    is set. Both helpers are beta APIs, kept with their warnings visible: they are Dagster's way to fill the UI's
    code links, and nothing stable replaces them in 1.13."""
    with warnings.catch_warnings():
        # the helpers' own BetaWarnings stay; the same warning for the metadata classes they build, once per asset
        # and process, would fill the console of `dg dev` with ~80 copies
        warnings.filterwarnings("ignore", message=r"Class `(LocalFileCodeReference|UrlCodeReference|"
                                r"CodeReferencesMetadataValue|AnchorBasedFilePathMapping|FilePathMapping)`",
                                category=dg.BetaWarning)
        linked = dg.with_source_code_references(assets)
        refs = settings.raw.code_references
        if not refs.git_url:
            return list(linked)
        return list(dg.link_code_references_to_git(
            linked,
            git_url=refs.git_url,
            git_branch=refs.git_branch,
            platform=refs.platform,
            file_path_mapping=dg.AnchorBasedFilePathMapping(
                local_file_anchor=PROJECT_ROOT / "pyproject.toml", file_anchor_path_in_repository="pyproject.toml"
            ),
        ))


@dg.definitions
def defs() -> dg.Definitions:
    install_process_redaction()  # every log record of this code location's processes, before anything logs
    settings = current_settings()
    domains = dg.load_from_defs_folder(path_within_project=PACKAGE_DIR)
    # infra builds its region asset from the same region list (it has no module-level definitions of its own)
    infra = build_infra_defs(region_partitions(settings.regions), settings.regions_file)
    return dg.Definitions(
        assets=apply_policy([*(domains.assets or []), *(infra.assets or [])], settings),
        asset_checks=[*(domains.asset_checks or []), *(infra.asset_checks or [])],
        jobs=[*(domains.jobs or []), *(infra.jobs or [])],
        schedules=[*(domains.schedules or []), *(infra.schedules or [])],
        sensors=[
            *(domains.sensors or []),
            automation_sensor(settings.raw.sensors_running),
            build_alert_sensor(settings.raw.sensors_running),
        ],
        resources={**(domains.resources or {}), **(infra.resources or {}),
                   "launcher": TrainerLauncher(), "mlflow": MLflowRegistry()},
    )
