"""Deployment settings: where data lives, which regions exist, and which backend runs each region.

Read from the YAML file named by `ROBOTICS_SETTINGS` (default `config/local.yaml`) when definitions load or a
resource runs, never at import time. Regions come from the Terraform-outputs file (`regions_file`), optionally
narrowed and overridden here; the code holds no region names.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from robotics_assets.lib.terraform_outputs import RegionOutputsError, load_regions_file
from trainer.redaction import uri_carries_credentials

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SETTINGS = "config/local.yaml"


class SettingsError(ValueError):
    """A settings problem, phrased as `file: field: problem (fix)`."""


class RegionSettings(BaseModel):
    """Per-region deployment choices layered over the region's Terraform outputs."""

    model_config = ConfigDict(extra="forbid")

    backend: str | None = Field(None, description="compute backend name (local, k8s, osmo); default: default_backend")
    gpus: int | None = Field(None, ge=0, description="GPUs per launch (0: none, CPU only); a train step on CUDA takes "
                             "its task config's gpus instead (lib/launch/base.py); default: training.gpus")
    gpu_price_per_hour: float | None = Field(None, ge=0, description="overrides the Terraform output's price")
    artifact_root: str | None = Field(None, description="where run directories go; default <data_dir>/runs")
    trainer_args: dict[str, Any] = Field(default_factory=dict, description="per-region trainer flags, e.g. num_envs")
    backend_options: dict[str, Any] = Field(default_factory=dict, description="free-form options for the backend")
    kernel_cache: str | None = Field(
        None,
        description="store prefix the trainer restores/publishes its Warp kernel cache under (TRAINER_KERNEL_CACHE); "
        "'off' disables; default: <artifact_root>/kernel-cache for remote backends when artifact_root is a URL",
    )


class TrainingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    gpus: int = Field(0, ge=0)
    # trainer flags (without leading dashes) passed to every `train` launch, e.g. {device: cpu, num_envs: 64}
    trainer_args: dict[str, Any] = Field(default_factory=dict)
    evaluate_args: dict[str, Any] = Field(default_factory=dict)


class PromotionSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metric: str = "mean_return"
    higher_is_better: bool = True
    min_improvement: float = Field(0.0, ge=0, description="challenger must beat the champion by more than this")
    alias_prefix: str = "champion"
    max_champion_age_days: float | None = Field(
        30.0, gt=0, description="the champion_fresh check fails when a region's champion is older (null: no limit)"
    )


class ConcurrencySettings(BaseModel):
    """Run limits templated into the Dagster instance (dagster.yaml): per region and for GPU runs."""

    model_config = ConfigDict(extra="forbid")

    max_concurrent_runs: int = Field(8, ge=1)
    per_region: int = Field(2, ge=1)
    gpu_runs: int = Field(4, ge=1)


class RunRetrySettings(BaseModel):
    """Rendered into dagster.yaml `run_retries`: a run whose worker crashed or was evicted is retried; a run whose
    asset failed is not (that failure is the job's own, and assets carry their own retry policies)."""

    model_config = ConfigDict(extra="forbid")

    max_retries: int = Field(2, ge=0, description="0 turns run retries off")


class RunMonitoringSettings(BaseModel):
    """Rendered into dagster.yaml `run_monitoring`: runs stuck starting or canceling are failed by the daemon."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    start_timeout_s: int = Field(300, ge=1, description="a run not started after this is marked failed")
    cancel_timeout_s: int = Field(180, ge=1, description="a run not canceled after this is marked canceled")
    poll_interval_s: int = Field(60, ge=1)
    max_runtime_s: int | None = Field(None, ge=1, description="fail any run that runs longer (null: no limit)")


class RegistryRetrySettings(BaseModel):
    """The registry step's retry policy (exponential backoff with jitter): an MLflow blip must not fail it for good."""

    model_config = ConfigDict(extra="forbid")

    max_retries: int = Field(3, ge=0)
    delay_s: float = Field(10.0, ge=0, description="first delay; doubled on every retry")


class AlertSettings(BaseModel):
    """Where `robotics_alerts` posts (besides its log) when an evaluation gate or a training fails."""

    model_config = ConfigDict(extra="forbid")

    webhook_env: str = Field(
        "ROBOTICS_ALERT_WEBHOOK_URL",
        description="name of the environment variable holding the webhook URL (a Slack/Teams URL is a secret, so "
        "it never sits in this file); unset or empty: alerts go to the sensor's log only",
    )
    timeout_s: float = Field(10.0, gt=0)


class CodeReferenceSettings(BaseModel):
    """Links from each asset to its source in the UI; without `git_url` they point at local files."""

    model_config = ConfigDict(extra="forbid")

    git_url: str | None = Field(None, description="e.g. https://github.com/org/robotics-assets")
    git_branch: str = "main"
    platform: Literal["github", "gitlab"] | None = Field(None, description="default: inferred from git_url")

    @field_validator("git_url")
    @classmethod
    def _git_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith("https://"):
            raise ValueError(f"{url!r}: an https:// URL of the repository (e.g. https://github.com/org/repo)")
        return url.rstrip("/") if url else url


class SettingsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data_dir: str = ".data"
    task_configs: str = "task_configs"
    mlflow_tracking_uri: str | None = None
    mlflow_experiment_prefix: str = "robotics"
    regions_file: str = "infra_tf/examples/regions.sample.json"
    enabled_regions: list[str] | None = Field(None, description="subset of the regions file; default: all")
    default_backend: str = "local"
    regions: dict[str, RegionSettings] = Field(default_factory=dict)
    # extra compute backends: name -> "module:factory" (factory(settings, region) -> Backend)
    backends: dict[str, str] = Field(default_factory=dict)
    sensors_running: bool = Field(True, description="default status of the task-config and automation sensors")
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    promotion: PromotionSettings = Field(default_factory=PromotionSettings)
    concurrency: ConcurrencySettings = Field(default_factory=ConcurrencySettings)
    sensor_interval_s: int = Field(30, ge=1)
    run_retries: RunRetrySettings = Field(default_factory=RunRetrySettings)
    run_monitoring: RunMonitoringSettings = Field(default_factory=RunMonitoringSettings)
    registry_retry: RegistryRetrySettings = Field(default_factory=RegistryRetrySettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    owners: list[str] = Field(
        default_factory=lambda: ["team:robotics"],
        description="asset owners shown in the UI: emails or team:<name>",
    )
    code_references: CodeReferenceSettings = Field(default_factory=CodeReferenceSettings)

    @field_validator("owners")
    @classmethod
    def _owners(cls, owners: list[str]) -> list[str]:
        for owner in owners:  # what Dagster accepts as an asset owner
            if not re.fullmatch(r"team:[\w.-]+|[^@\s]+@[^@\s]+\.[^@\s]+", owner):
                raise ValueError(f"{owner!r} is neither an email nor team:<name>")
        return owners


class Settings:
    """Resolved settings: paths absolute, regions loaded from the Terraform outputs file."""

    def __init__(self, raw: SettingsFile, path: Path, project_root: Path = PROJECT_ROOT):
        self.raw = raw
        self.path = path
        self.project_root = project_root
        data_dir = os.environ.get("ROBOTICS_DATA_DIR") or raw.data_dir
        self.data_dir = self._resolve(data_dir)
        self.regions_file = self._resolve(raw.regions_file)
        self._refuse_credentials()
        try:
            self.region_outputs: dict[str, dict[str, Any]] = load_region_outputs(self.regions_file)
        except RegionOutputsError as e:
            raise SettingsError(f"{e}\n(regions_file in {self.path})") from None
        except OSError as e:  # a folder, an unreadable file
            raise SettingsError(
                f"{self.path}: regions_file: cannot read {self.regions_file} ({e.strerror}); point it at the JSON "
                "written by `terraform output -json regions`"
            ) from None
        self.regions: list[str] = self._select_regions()
        refs = raw.code_references
        if refs.git_url and refs.platform is None and not ("github" in refs.git_url or "gitlab" in refs.git_url):
            raise SettingsError(
                f"{self.path}: code_references.platform: cannot tell github from gitlab by {refs.git_url!r}; "
                "set it (allowed: github, gitlab)"
            )

    def _refuse_credentials(self) -> None:
        """URLs here travel in trainer arguments, run logs and metadata: a password or SAS token must not ride along.

        The error names the field only, never the value.
        """
        from robotics_assets.lib.secrets import has_credentials

        fields = {"mlflow_tracking_uri": self.raw.mlflow_tracking_uri, "task_configs": self.raw.task_configs,
                  "code_references.git_url": self.raw.code_references.git_url}
        fields.update({f"regions.{name}.artifact_root": r.artifact_root for name, r in self.raw.regions.items()})
        for field, value in fields.items():
            if value and "://" in value and has_credentials(value):
                fix = (
                    "set MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD for an MLflow server, or PGPASSWORD "
                    "(or ~/.pgpass) for a PostgreSQL store"
                    if field == "mlflow_tracking_uri"
                    else "storage authenticates with the pod's workload identity or AZURE_STORAGE_CONNECTION_STRING"
                )
                raise SettingsError(
                    f"{self.path}: {field}: the URL carries credentials (a password, SAS signature or key), which "
                    f"would show in run logs and metadata; remove them and {fix}"
                )

    def _resolve(self, value: str) -> Path:
        p = Path(value).expanduser()
        return p if p.is_absolute() else (self.project_root / p)

    def _select_regions(self) -> list[str]:
        available = list(self.region_outputs)
        for name in self.raw.regions:
            if name not in available:
                raise SettingsError(
                    f"{self.path}: regions.{name}: not in {self.regions_file} (allowed: {', '.join(available)})"
                )
        if self.raw.enabled_regions is None:
            return available
        for name in self.raw.enabled_regions:
            if name not in available:
                raise SettingsError(
                    f"{self.path}: enabled_regions: {name!r} is not in {self.regions_file} "
                    f"(allowed: {', '.join(available)})"
                )
        if not self.raw.enabled_regions:
            raise SettingsError(f"{self.path}: enabled_regions: empty (name at least one region or remove the key)")
        return list(self.raw.enabled_regions)

    # -- locations -------------------------------------------------------------------------------------------
    @property
    def dagster_home(self) -> Path:
        return self.data_dir / "dagster_home"

    @property
    def mlflow_tracking_uri(self) -> str:
        return self.raw.mlflow_tracking_uri or f"sqlite:///{self.data_dir / 'mlflow' / 'mlflow.db'}"

    @property
    def mlflow_artifact_root(self) -> Path:
        return self.data_dir / "mlflow" / "artifacts"

    @property
    def task_configs(self) -> str:
        """A folder path (absolute) or a URL for non-folder sources."""
        loc = self.raw.task_configs
        return loc if "://" in loc else str(self._resolve(loc))

    # -- per region -------------------------------------------------------------------------------------------
    def region(self, name: str) -> RegionSettings:
        if name not in self.regions:
            raise SettingsError(f"{self.path}: region {name!r} is not configured (allowed: {', '.join(self.regions)})")
        return self.raw.regions.get(name) or RegionSettings()

    def backend_name(self, region: str) -> str:
        return self.region(region).backend or self.raw.default_backend

    def gpus(self, region: str) -> int:
        r = self.region(region)
        return self.raw.training.gpus if r.gpus is None else r.gpus

    def gpu_pool(self, region: str) -> str | None:
        """The GPU node pool the region's launches use: `backend_options.node_pool`, else Terraform's default pool."""
        return self.region(region).backend_options.get("node_pool") or self.region_outputs[region].get("default_gpu_pool")

    def gpu_price_per_hour(self, region: str) -> float:
        """USD per GPU-hour: the settings' override, else the price of the pool launches use (Terraform outputs)."""
        r = self.region(region)
        if r.gpu_price_per_hour is not None:
            return r.gpu_price_per_hour
        outputs = self.region_outputs[region]
        name = self.gpu_pool(region)
        pool = (outputs.get("gpu_node_pools") or {}).get(name) or {}
        if name != outputs.get("default_gpu_pool") and pool.get("price_per_hour") is not None:
            return float(pool["price_per_hour"]) / int(pool["gpus_per_node"])
        # the default pool: Terraform's regional price (its override, or the pool's list price per GPU)
        return float(outputs.get("gpu_price_per_hour") or 0.0)

    def artifact_root(self, region: str) -> str:
        root = self.region(region).artifact_root
        if root is None:
            return str(self.data_dir / "runs")
        return root if "://" in root else str(self._resolve(root))

    def kernel_cache_uri(self, region: str) -> str | None:
        """Where a fresh pod restores compiled Warp kernels from (None: off, the embedded local default)."""
        value = self.region(region).kernel_cache
        if value is not None:
            value = value.strip()
            if value.lower() in ("", "off", "none", "false"):
                return None
            if uri_carries_credentials(value):
                raise SettingsError(
                    f"{self.path}: regions.{region}.kernel_cache: no credentials in the URI (query string or user "
                    "info); the trainer authenticates with the pod's identity or AZURE_STORAGE_CONNECTION_STRING"
                )
            return value
        if self.backend_name(region) == "local":
            return None
        root = self.artifact_root(region)
        if "://" not in root or "?" in root:  # a path on the Dagster machine means nothing to a pod
            return None
        return f"{root.rstrip('/')}/kernel-cache"

    def train_args(self, region: str) -> dict[str, Any]:
        return {**self.raw.training.trainer_args, **self.region(region).trainer_args}

    def trainer_env(self) -> dict[str, str]:
        """Environment every local trainer process gets: caches and the offline asset root under the data dir."""
        return {
            "ROBOTICS_DATA_DIR": str(self.data_dir),
            # an existing cache (CI, a shared dev cache) saves the first ~30 s Warp kernel compile
            "WARP_CACHE_PATH": os.environ.get("WARP_CACHE_PATH") or str(self.data_dir / "warp_cache"),
            "MLFLOW_TRACKING_URI": self.mlflow_tracking_uri,
        }


def settings_path() -> Path:
    value = os.environ.get("ROBOTICS_SETTINGS", DEFAULT_SETTINGS)
    p = Path(value).expanduser()
    return p if p.is_absolute() else PROJECT_ROOT / p


def load_settings(path: str | os.PathLike | None = None) -> Settings:
    """Load and validate the deployment settings; errors name the file, the field and the fix."""
    p = Path(path) if path else settings_path()
    if not p.is_file():
        raise SettingsError(f"{p}: settings file not found (set ROBOTICS_SETTINGS to a YAML file, e.g. config/local.yaml)")
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as e:
        raise SettingsError(f"{p}: not valid YAML: {e}") from None
    try:
        raw = SettingsFile.model_validate(data)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc'])) or '<root>'}: {err['msg']}" for err in e.errors())
        raise SettingsError(f"{p}: {problems}") from None
    return Settings(raw, p)


@functools.lru_cache(maxsize=8)
def _cached(path: str, mtime: float) -> Settings:
    return load_settings(path)


def current_settings() -> Settings:
    """Settings for the current process, reloaded when the file (or ROBOTICS_SETTINGS) changes."""
    p = settings_path()
    mtime = p.stat().st_mtime if p.exists() else 0.0
    return _cached(str(p), mtime) if p.exists() else load_settings(p)


def load_region_outputs(path: Path) -> dict[str, dict[str, Any]]:
    """Terraform `regions` output as plain dicts, validated by `terraform_outputs.load_regions_file`."""
    return {name: region.model_dump() for name, region in load_regions_file(path).items()}

