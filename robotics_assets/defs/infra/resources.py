"""`terraform_outputs`: the region settings file that infra_tf's `regions` output produced."""

from __future__ import annotations

import hashlib
import json

import dagster as dg

from robotics_assets.lib.terraform_outputs import RegionOutputs, load_regions_file


def outputs_version(region: RegionOutputs) -> str:
    """Content hash of one region's validated outputs: key order and whitespace in the file do not matter."""
    canonical = json.dumps(region.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


class TerraformOutputs(dg.ConfigurableResource):
    """Reads the regions file at run time (never at import or load time), so a re-applied Terraform is seen at
    the next observation without reloading the code location."""

    regions_file: str

    def regions(self) -> dict[str, RegionOutputs]:
        return load_regions_file(self.regions_file)
