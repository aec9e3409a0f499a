"""`region_infrastructure`: the provisioned platform of each region, observed from the Terraform outputs file."""

from __future__ import annotations

import dagster as dg

from robotics_assets.defs.infra.resources import TerraformOutputs, outputs_version
from robotics_assets.lib.terraform_outputs import RegionOutputsError

REGION_INFRASTRUCTURE = dg.AssetKey("region_infrastructure")


def build_region_infrastructure(region_partitions: dg.PartitionsDefinition) -> dg.SourceAsset:
    """An observable source asset, one partition per region. Its data version is a hash of the region's outputs,
    so re-applying Terraform with a changed output (cluster, pools, storage, price...) marks everything trained on
    the old infrastructure stale, while an unchanged re-apply changes nothing."""

    # `observable_source_asset` is a beta API, kept (its BetaWarning shows when the code location loads): it is
    # Dagster's one way for an asset it does not build to carry data versions that mark downstream assets stale.
    @dg.observable_source_asset(
        key=REGION_INFRASTRUCTURE,
        partitions_def=region_partitions,
        group_name="infra",
        description="Per-region platform provisioned by infra_tf (AKS + GPU pools, storage, registry, Key Vault, "
        "Azure ML). Observed from `terraform output -json regions`; data version = hash of the region's outputs.",
        tags={"dagster/kind/terraform": "", "dagster/kind/azure": ""},
    )
    def region_infrastructure(
        context: dg.AssetExecutionContext, terraform_outputs: TerraformOutputs
    ) -> dg.DataVersionsByPartition:
        try:
            regions = terraform_outputs.regions()
        except RegionOutputsError as exc:
            raise dg.Failure(str(exc)) from None
        wanted = region_partitions.get_partition_keys(dynamic_partitions_store=context.instance)
        missing = [name for name in wanted if name not in regions]
        if missing:
            raise dg.Failure(
                f"{terraform_outputs.regions_file}: no outputs for region(s) {', '.join(missing)} "
                f"(present: {', '.join(regions)}); add them to infra_tf's `regions` variable and re-apply, "
                "or remove them from the deployment settings"
            )
        versions = {name: outputs_version(regions[name]) for name in wanted}
        for name in wanted:
            context.log.info(f"{name}: outputs version {versions[name]}")
        return dg.DataVersionsByPartition({name: dg.DataVersion(version) for name, version in versions.items()})

    return region_infrastructure
