"""`deployed_policy`: the ONNX model in the MLflow registry, and the region's champion alias if it earned it."""

import dagster as dg

from robotics_assets.defs.deployment.model_file import fetched_model
from robotics_assets.lib.partitions import task_region
from robotics_assets.lib.registry import MLflowRegistry
from robotics_assets.lib.settings import current_settings
from robotics_assets.lib.upstream import latest_metadata, require

EVALUATION_TAGS = ("mean_return", "mean_episode_length", "success_rate")


def registry_retry_policy(max_retries: int, delay_s: float) -> dg.RetryPolicy:
    """An MLflow outage or a dropped connection is retried with exponential backoff (with jitter, so regions that
    failed together do not retry together); a problem with the inputs raises Failure(allow_retries=False)."""
    return dg.RetryPolicy(max_retries=max_retries, delay=delay_s, backoff=dg.Backoff.EXPONENTIAL,
                          jitter=dg.Jitter.PLUS_MINUS)


def build_deployment_asset(
    partitions_def: dg.MultiPartitionsDefinition, retry_policy: dg.RetryPolicy | None = None
) -> dg.AssetsDefinition:
    @dg.asset(
        name="deployed_policy",
        partitions_def=partitions_def,
        deps=["onnx_policy", "evaluation_report", "policy"],
        group_name="deployment",
        kinds={"mlflow"},
        retry_policy=retry_policy,
        description="Registers the ONNX model (one registered model per task) and moves `champion-<region>` only "
        "when the evaluation gate passed and the policy beats the current champion; otherwise says why not.",
    )
    def deployed_policy(context: dg.AssetExecutionContext, mlflow: MLflowRegistry) -> dg.MaterializeResult:
        task, region = task_region(context)
        onnx = latest_metadata(context, "onnx_policy", context.partition_key)
        report = latest_metadata(context, "evaluation_report", context.partition_key)
        policy = latest_metadata(context, "policy", context.partition_key)
        onnx_uri, onnx_sha = require(onnx, "onnx_policy", "onnx_uri", "onnx_sha256")
        metric = current_settings().raw.promotion.metric
        value = report.get(metric)
        # a sweep's winner competes with its base task's champion: one registered model per task, trials included
        model_task = str(policy.get("sweep_base") or task)
        sweep_tags = {"sweep": str(policy["sweep"]), "sweep_trial": task} if policy.get("sweep") else {}
        with fetched_model(str(onnx_uri), str(onnx_sha)) as onnx_path:
            decision = mlflow.register_and_decide(
                task=model_task,
                region=region,
                onnx_path=onnx_path,
                onnx_sha256=str(onnx_sha),
                training_run_id=policy.get("mlflow_run_id"),
                metric_value=None if value is None else float(value),
                gate_passed=bool(report.get("passed")),
                # the numbers the gate judged travel with the model, so the champion check can judge them again later
                tags={"dagster_run_id": context.run.run_id, "task": model_task, **sweep_tags,
                      **{f"eval_{k}": repr(float(report[k])) for k in EVALUATION_TAGS if report.get(k) is not None}},
            )
        context.log.info(f"{'promoted' if decision.promoted else 'not promoted'}: {decision.reason}")
        champion = decision.previous_champion or {}
        return dg.MaterializeResult(
            metadata={
                "registered_model": decision.details["registered_model"],
                "model_version": decision.version,
                "model_uri": decision.model_uri,
                "model_url": dg.MetadataValue.url(mlflow.model_url(decision.details["registered_model"], decision.version)),
                "alias": decision.alias,
                "promoted": decision.promoted,
                "reason": decision.reason,
                f"challenger_{metric}": value,
                f"champion_before_{metric}": champion.get(metric),
                "champion_before_version": champion.get("version"),
                "gate_passed": bool(report.get("passed")),
                "onnx_sha256": str(onnx_sha),
            }
        )

    return deployed_policy
