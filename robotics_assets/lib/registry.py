"""MLflow: tracking URIs and UI links for runs, and the model registry with per-region champion aliases.

`mlflow` is imported inside methods: it costs ~1 s and must stay out of the definitions' import path.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from robotics_assets.lib.settings import current_settings


@dataclass
class PromotionDecision:
    promoted: bool
    reason: str
    version: str
    model_uri: str
    alias: str
    previous_champion: dict[str, Any] | None = None
    details: dict[str, Any] = field(default_factory=dict)


def decide_promotion(
    *,
    gate_passed: bool,
    challenger: float | None,
    champion: float | None,
    higher_is_better: bool,
    min_improvement: float,
    metric: str,
) -> tuple[bool, str]:
    """Champion/challenger: promote only when the gate passed and the challenger beats the champion."""
    if not gate_passed:
        return False, "evaluation gate failed: a policy that misses the task's success criteria is never promoted"
    if challenger is None:
        return False, f"evaluation report has no {metric!r}: cannot compare with the champion"
    if champion is None:
        return True, f"no champion yet: first policy that passed the gate ({metric}={challenger:.4g})"
    delta = (challenger - champion) if higher_is_better else (champion - challenger)
    if delta > min_improvement:
        return True, f"challenger {metric}={challenger:.4g} beats champion {champion:.4g} (by {delta:.4g})"
    return False, (
        f"challenger {metric}={challenger:.4g} does not beat champion {champion:.4g} "
        f"by more than {min_improvement:g}"
    )


class MLflowRegistry(dg.ConfigurableResource):
    """MLflow tracking server / registry (default: the settings' sqlite store under the data dir)."""

    tracking_uri: str | None = None
    ui_url: str | None = None  # e.g. http://127.0.0.1:5000 for `mlflow ui`; used only to build links

    def uri(self) -> str:
        """The tracking URI; one that carries credentials is refused like every other URL of the settings: it
        travels in trainer arguments, run logs and metadata (the error names the field, never the value)."""
        if self.tracking_uri:
            from robotics_assets.lib.secrets import has_credentials

            if has_credentials(self.tracking_uri):
                raise ValueError(
                    "resources.mlflow.config.tracking_uri: the URL carries credentials (a password, token or SAS "
                    "signature), which would show in run logs and metadata; remove them and set "
                    "MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN) for the server"
                )
            return self.tracking_uri
        return current_settings().mlflow_tracking_uri

    def experiment_name(self, task: str) -> str:
        return f"{current_settings().raw.mlflow_experiment_prefix}-{task}"

    def registered_model_name(self, task: str) -> str:
        return f"{current_settings().raw.mlflow_experiment_prefix}-{task}-policy"

    def _ui(self) -> str:
        tracking = self.uri()
        served = tracking if tracking.startswith(("http://", "https://")) else None  # an MLflow server is its own UI
        ui = self.ui_url or os.environ.get("MLFLOW_UI_URL")
        if ui:
            from robotics_assets.lib.secrets import has_credentials

            if has_credentials(ui):  # run and model links land in metadata
                raise ValueError("resources.mlflow.config.ui_url (or MLFLOW_UI_URL): the URL carries credentials, "
                                 "which would show in asset metadata; give the UI's plain address")
        return (ui or served or "http://127.0.0.1:5000").rstrip("/")

    def run_url(self, run_id: str, experiment_id: str | None = None) -> str:
        exp = experiment_id or self._client().get_run(run_id).info.experiment_id
        return f"{self._ui()}/#/experiments/{exp}/runs/{run_id}"

    def model_url(self, name: str, version: str) -> str:
        return f"{self._ui()}/#/models/{name}/versions/{version}"

    def champion(self, task: str, region: str):
        """The model version holding `<alias_prefix>-<region>` for `task` (an MLflow ModelVersion), or None."""
        from mlflow.exceptions import MlflowException

        alias = f"{current_settings().raw.promotion.alias_prefix}-{region}"
        try:
            return self._client().get_model_version_by_alias(self.registered_model_name(task), alias)
        except MlflowException as e:
            # no such model (RESOURCE_DOES_NOT_EXIST) or alias (INVALID_PARAMETER_VALUE): no champion yet; anything
            # else (an outage) is raised, so a check never reports "no champion" because the registry was down
            if e.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                return None
            raise

    def _client(self):
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.uri(), registry_uri=self.uri())

    def register_and_decide(
        self,
        *,
        task: str,
        region: str,
        onnx_path: str,
        onnx_sha256: str,
        training_run_id: str | None,
        metric_value: float | None,
        gate_passed: bool,
        tags: dict[str, str],
    ) -> PromotionDecision:
        """Register the ONNX model (idempotent on its sha256) and move `champion-<region>` if it earned it."""
        import mlflow
        from mlflow.exceptions import MlflowException

        settings = current_settings()
        promo = settings.raw.promotion
        name = self.registered_model_name(task)
        alias = f"{promo.alias_prefix}-{region}"
        client = self._client()

        existing = client.search_model_versions(f"name = '{name}'")
        version = next((v for v in existing if v.tags.get("onnx_sha256") == onnx_sha256 and v.tags.get("region") == region), None)
        if version is None:
            version = self._log_onnx(mlflow, name, onnx_path, training_run_id, task)
        version_tags = {
            **tags,
            "region": region,
            "onnx_sha256": onnx_sha256,
            "gate_passed": str(gate_passed).lower(),
            promo.metric: "" if metric_value is None else repr(float(metric_value)),
        }
        for k, v in version_tags.items():
            client.set_model_version_tag(name, version.version, k, v)

        try:
            current = client.get_model_version_by_alias(name, alias)
        except MlflowException:
            current = None
        champion_value = None
        previous = None
        if current is not None:
            raw = current.tags.get(promo.metric)
            champion_value = float(raw) if raw else None
            previous = {"version": str(current.version), promo.metric: champion_value}
        if current is not None and current.version == version.version:
            promoted, reason = False, f"version {version.version} is already {alias}"
        else:
            promoted, reason = decide_promotion(
                gate_passed=gate_passed,
                challenger=metric_value,
                champion=champion_value,
                higher_is_better=promo.higher_is_better,
                min_improvement=promo.min_improvement,
                metric=promo.metric,
            )
        if promoted:
            client.set_registered_model_alias(name, alias, version.version)
        client.set_model_version_tag(name, version.version, f"decision-{region}", reason[:500])
        return PromotionDecision(
            promoted=promoted,
            reason=reason,
            version=str(version.version),
            model_uri=f"models:/{name}/{version.version}",
            alias=alias,
            previous_champion=previous,
            details={"registered_model": name},
        )

    def _log_onnx(self, mlflow, name: str, onnx_path: str, run_id: str | None, task: str):
        """Log the ONNX file as an MLflow model (in the training run when there is one) and register it."""
        import onnx

        mlflow.set_tracking_uri(self.uri())
        mlflow.set_registry_uri(self.uri())
        model = onnx.load(onnx_path)
        # explicit requirements: inferring them starts a subprocess that re-imports everything (~10 s)
        log = functools.partial(
            mlflow.onnx.log_model, model, name="onnx_policy", registered_model_name=name,
            pip_requirements=["onnxruntime"],
        )
        if run_id:
            # the fluent API refuses a run outside the process's active experiment (set by an earlier call)
            mlflow.set_experiment(experiment_id=self._client().get_run(run_id).info.experiment_id)
            with mlflow.start_run(run_id=run_id):
                info = log()
        else:
            mlflow.set_experiment(self.experiment_name(task))
            with mlflow.start_run(run_name=f"register-{task}"):
                info = log()
        return self._client().get_model_version(name, str(info.registered_model_version))
