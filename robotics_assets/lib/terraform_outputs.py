"""The region settings file: infra_tf's `regions` output, read as typed, validated settings.

`terraform output -json regions > FILE` writes it; docs/architecture.md ("Region settings") defines the shape.
Every key must be present (unused parts may be null) and unknown keys are rejected, so a drift between the
Terraform outputs and this reader fails loudly at load time instead of as a `KeyError` inside a launcher.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class _Contract(BaseModel):
    # Fields without defaults: a missing key is an error even where null is allowed ("all keys present").
    model_config = ConfigDict(extra="forbid", frozen=True)


class Taint(_Contract):
    key: str = Field(min_length=1)
    value: str
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]


class GpuNodePool(_Contract):
    vm_size: str = Field(min_length=1)
    priority: Literal["Spot", "Regular"]
    gpus_per_node: int = Field(ge=1)
    node_selector: dict[str, str]
    taints: list[Taint]


class AksSettings(_Contract):
    cluster_name: str = Field(min_length=1)
    oidc_issuer_url: str | None
    namespace: str = Field(min_length=1)
    training_service_account: str = Field(min_length=1)
    training_identity_client_id: str | None
    kubernetes_version: str | None


class ContainerRegistry(_Contract):
    login_server: str = Field(min_length=1)
    trainer_image: str = Field(min_length=1)


class StorageContainers(_Contract):
    checkpoints: str = Field(min_length=3)
    models: str = Field(min_length=3)
    task_configs: str = Field(min_length=3)
    pipes: str = Field(min_length=3)


class StorageSettings(_Contract):
    account_name: str = Field(min_length=3, max_length=24)
    blob_endpoint: str = Field(pattern=r"^https?://")
    containers: StorageContainers


class OsmoSettings(_Contract):
    enabled: bool
    pool: str | None
    service_url: str | None

    @model_validator(mode="after")
    def _pool_when_enabled(self) -> OsmoSettings:
        if self.enabled and not self.pool:
            raise ValueError("pool: required when enabled is true (set osmo_pool in the region's Terraform settings)")
        return self


class RegionOutputs(_Contract):
    """One region's entry of the `regions` output."""

    location: str = Field(min_length=1)
    resource_group: str = Field(min_length=1)
    aks: AksSettings | None
    gpu_node_pools: dict[str, GpuNodePool]
    container_registry: ContainerRegistry | None
    storage: StorageSettings | None
    key_vault_uri: str | None
    mlflow_tracking_uri: str | None
    osmo: OsmoSettings | None
    gpu_price_per_hour: float | None = Field(ge=0)


class RegionOutputsError(ValueError):
    """A problem in the region settings file, phrased as `file: region.field: problem (fix)`."""


def _regions_value(document: Any, path: Path) -> Any:
    """Accept the `regions` value itself, or the full `terraform output -json` document around it."""
    if isinstance(document, dict) and isinstance(document.get("regions"), dict) and "value" in document["regions"]:
        return document["regions"]["value"]
    if isinstance(document, dict) and set(document) >= {"value", "type"}:  # one output's wrapper
        return document["value"]
    if isinstance(document, dict) and "regions" in document and not isinstance(document["regions"], dict):
        raise RegionOutputsError(f"{path}: regions: expected the output object with a `value` key")
    return document


def _field_path(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc)


def parse_regions(document: Any, source: str | Path = "<regions>") -> dict[str, RegionOutputs]:
    """Validate a decoded regions document (see `load_regions_file`)."""
    path = Path(source)
    data = _regions_value(document, path)
    if not isinstance(data, dict) or not data:
        raise RegionOutputsError(
            f"{path}: expected a non-empty JSON object keyed by region name "
            "(write it with `terraform output -json regions > FILE`)"
        )
    regions: dict[str, RegionOutputs] = {}
    problems: list[str] = []
    for name, entry in data.items():
        try:
            region = RegionOutputs.model_validate(entry)
        except ValidationError as exc:
            for error in exc.errors(include_url=False):
                where = _field_path(error["loc"])
                problems.append(f"{path}: {name}{'.' + where if where else ''}: {error['msg']}")
            continue
        if region.location != name:
            problems.append(f"{path}: {name}.location: {region.location!r} does not match its key {name!r}")
        regions[name] = region
    if problems:
        raise RegionOutputsError(
            "\n".join(problems) + '\n(the shape is documented in docs/architecture.md, "Region settings"; '
            "regenerate the file with `terraform output -json regions`)"
        )
    return regions


def load_regions_file(path: str | Path) -> dict[str, RegionOutputs]:
    """Read and validate the region settings file; errors name the file, the region and the field."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise RegionOutputsError(
            f"{path}: regions file not found (write it with `terraform output -json regions > {path}`)"
        ) from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RegionOutputsError(f"{path}: not valid JSON: {exc}") from None
    return parse_regions(document, path)
