"""The region settings file: infra_tf's `regions` output, read as typed, validated settings.

`terraform output -json regions > FILE` writes it; docs/architecture.md ("Region settings") defines the shape.
Every key must be present (unused parts may be null) and unknown keys are rejected, so a drift between the
Terraform outputs and this reader fails loudly at load time instead of as a `KeyError` inside a launcher.
"""

from __future__ import annotations

import fnmatch
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
    min_count: int = Field(ge=0)
    max_count: int = Field(ge=1)
    price_per_hour: float | None = Field(ge=0)  # USD per node-hour; null for a VM size outside the catalog
    node_selector: dict[str, str]
    taints: list[Taint]


class TrainingDomain(_Contract):
    """A trust domain: its own identity, which may write only under its tasks' storage prefixes (docs/infra.md)."""

    service_account: str = Field(min_length=1)
    identity_client_id: str | None
    tasks: list[str] = Field(min_length=1)  # task-name patterns, `*` a wildcard


class AksSettings(_Contract):
    id: str | None
    cluster_name: str = Field(min_length=1)
    oidc_issuer_url: str | None
    kubernetes_version: str | None
    namespace: str = Field(min_length=1)
    training_service_account: str = Field(min_length=1)
    training_identity_client_id: str | None
    training_domains: dict[str, TrainingDomain]
    orchestrator_namespace: str = Field(min_length=1)
    orchestrator_service_account: str = Field(min_length=1)
    orchestrator_identity_client_id: str | None

    def training_domain(self, task: str) -> TrainingDomain | None:
        """The domain whose patterns name `task` (see `training_domain_for`)."""
        name = training_domain_for(self.model_dump(), task)
        return None if name is None else self.training_domains[name]


def training_domain_for(aks: dict[str, Any], task: str) -> str | None:
    """Name of the training domain a task runs in, from a region's `aks` settings (plain dict, as launchers hold
    them): an exact task name wins over a pattern, a pattern over `*`; None when no domain names the task.

    A launcher runs the task's pods as that domain's `service_account`: only then do the ABAC conditions on the
    domain's identity keep it out of other tasks' checkpoints and models (docs/infra.md, "Who may do what").
    """

    def rank(name: str) -> int:
        tasks = aks["training_domains"][name]["tasks"]
        return 0 if task in tasks else 1 if any(p != "*" and fnmatch.fnmatchcase(task, p) for p in tasks) else 2

    matching = [name for name, domain in sorted((aks.get("training_domains") or {}).items())
                if any(fnmatch.fnmatchcase(task, p) for p in domain["tasks"])]
    return min(matching, key=rank) if matching else None


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
    identity_client_id: str | None  # OSMO's own services (control plane, router, backend operator)
    bucket: str | None  # blob container for OSMO's workflow data and logs
    workflow_namespace: str | None
    workflow_service_account: str | None  # federated with the default training identity

    @model_validator(mode="after")
    def _pool_when_enabled(self) -> OsmoSettings:
        if self.enabled and not self.pool:
            raise ValueError("pool: required when enabled is true (set osmo_pool in the region's Terraform settings)")
        return self


class RegionOutputs(_Contract):
    """One region's entry of the `regions` output."""

    location: str = Field(min_length=1)
    subscription_id: str | None
    resource_group: str = Field(min_length=1)
    aks: AksSettings | None
    gpu_node_pools: dict[str, GpuNodePool]
    default_gpu_pool: str | None  # the pool launchers use unless the deployment settings name another
    container_registry: ContainerRegistry | None
    storage: StorageSettings | None
    key_vault_uri: str | None
    ml_workspace_name: str | None
    mlflow_tracking_uri: str | None
    osmo: OsmoSettings | None
    gpu_price_per_hour: float | None = Field(ge=0)  # USD per GPU-hour in the default pool

    @model_validator(mode="after")
    def _default_pool_exists(self) -> RegionOutputs:
        if self.default_gpu_pool is not None and self.default_gpu_pool not in self.gpu_node_pools:
            raise ValueError(
                f"default_gpu_pool: {self.default_gpu_pool!r} is not one of gpu_node_pools "
                f"({', '.join(self.gpu_node_pools) or 'none'})"
            )
        if self.default_gpu_pool is None and self.gpu_node_pools:
            raise ValueError("default_gpu_pool: null although gpu_node_pools is not empty (re-run terraform output)")
        return self


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
