"""`region_infrastructure` in the asset graph: observed from the outputs file, versioned by content, and a changed
output marks the downstream policies of that region (and only that region) stale."""

from __future__ import annotations

import json
import shutil

import dagster as dg
import pytest

# Dagster's own staleness, as the UI shows it. It has no public Python API (the UI reads it over GraphQL from a
# running webserver); this test helper is the same resolver, so the test keeps it rather than re-deriving the rule.
from dagster._utils.test.data_versions import get_stale_status_resolver

from robotics_assets.defs.infra.definitions import build_infra_defs
from tests.infra.conftest import INFRA

pytestmark = pytest.mark.filterwarnings("ignore:Property `OpDefinition.version` is deprecated:DeprecationWarning")

REGIONS = ["eastus", "westeurope"]
region_partitions = dg.StaticPartitionsDefinition(REGIONS)
task_region = dg.MultiPartitionsDefinition(
    {"task": dg.StaticPartitionsDefinition(["cartpole"]), "region": region_partitions}
)


@dg.asset(
    partitions_def=task_region,
    deps=["region_infrastructure"],  # Dagster infers the multi -> region mapping, as in definitions.py
)
def policy() -> None:
    """Stand-in for the training asset: the dependency is wired exactly as definitions.py documents."""


@pytest.fixture
def regions_file(tmp_path):
    path = tmp_path / "regions.json"
    shutil.copy(INFRA / "examples" / "regions.sample.json", path)
    return path


def observe(defs: dg.Definitions, instance: dg.DagsterInstance) -> dict[str, str]:
    result = defs.resolve_job_def("observe_region_infrastructure").execute_in_process(instance=instance)
    assert result.success
    return {region: current_version(instance, region) for region in REGIONS}


def current_version(instance: dg.DagsterInstance, region: str) -> str:
    record = instance.get_latest_data_version_record(dg.AssetKey("region_infrastructure"), partition_key=region)
    return record.asset_observation.data_version


def edit(path, change) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


def test_definitions_hold_the_asset_job_schedule_and_resource(regions_file):
    defs = build_infra_defs(region_partitions, regions_file)
    spec = defs.resolve_assets_def("region_infrastructure")
    assert spec.partitions_def == region_partitions
    assert defs.resolve_schedule_def("observe_region_infrastructure").cron_schedule == "*/15 * * * *"
    assert set(defs.resources) == {"terraform_outputs"}
    # Loading the definitions never reads the file: configuration is read when observing.
    build_infra_defs(region_partitions, regions_file.parent / "not-yet-applied.json")


def test_data_version_follows_the_outputs(regions_file):
    defs = build_infra_defs(region_partitions, regions_file)
    instance = dg.DagsterInstance.ephemeral()
    first = observe(defs, instance)
    assert first["eastus"] != first["westeurope"] and all(first.values())

    # Same content, other formatting and key order: nothing changed.
    document = json.loads(regions_file.read_text())
    regions_file.write_text(json.dumps({k: document[k] for k in reversed(document)}, indent=4, sort_keys=True))
    assert observe(defs, instance) == first

    edit(regions_file, lambda d: d["eastus"]["gpu_node_pools"]["gpuspot"].update(vm_size="Standard_NC40ads_H100_v5"))
    second = observe(defs, instance)
    assert second["eastus"] != first["eastus"] and second["westeurope"] == first["westeurope"]


def test_changed_output_marks_that_regions_policy_stale(regions_file):
    defs = build_infra_defs(region_partitions, regions_file)
    instance = dg.DagsterInstance.ephemeral()
    observe(defs, instance)
    all_assets = [policy, *defs.assets]
    for region in REGIONS:
        key = dg.MultiPartitionKey({"task": "cartpole", "region": region})
        assert dg.materialize(
            all_assets, instance=instance, partition_key=key, selection=[policy], resources=defs.resources
        ).success

    def status(region: str) -> str:
        resolver = get_stale_status_resolver(instance, all_assets)
        return resolver.get_status(policy.key, dg.MultiPartitionKey({"task": "cartpole", "region": region})).value

    assert {r: status(r) for r in REGIONS} == {"eastus": "FRESH", "westeurope": "FRESH"}
    edit(regions_file, lambda d: d["eastus"]["storage"].update(account_name="stroboticsdeveus002"))
    observe(defs, instance)
    assert {r: status(r) for r in REGIONS} == {"eastus": "STALE", "westeurope": "FRESH"}


def test_region_missing_from_the_outputs_fails_clearly(regions_file):
    edit(regions_file, lambda d: d.pop("westeurope"))
    defs = build_infra_defs(region_partitions, regions_file)
    result = defs.resolve_job_def("observe_region_infrastructure").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False
    )
    assert not result.success
    message = result.failure_data_for_node("region_infrastructure").error.message
    assert "no outputs for region(s) westeurope" in message and str(regions_file) in message


def test_invalid_outputs_fail_with_the_field(regions_file):
    edit(regions_file, lambda d: d["eastus"].pop("resource_group"))
    defs = build_infra_defs(region_partitions, regions_file)
    result = defs.resolve_job_def("observe_region_infrastructure").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False
    )
    assert not result.success
    assert (
        "eastus.resource_group: Field required" in result.failure_data_for_node("region_infrastructure").error.message
    )
