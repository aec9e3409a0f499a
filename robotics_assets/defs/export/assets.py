"""`onnx_policy`: the policy exported to ONNX, with the `onnx_parity` check against the PyTorch policy."""


from pathlib import Path

import dagster as dg

from robotics_assets.defs.training.assets import plain, single_materialization
from robotics_assets.lib.launch import LaunchRequest, TrainerLauncher
from robotics_assets.lib.partitions import task_region
from robotics_assets.lib.upstream import checkpoint_name, latest_metadata, require

PARITY = "onnx_parity"


def build_onnx_asset(partitions_def: dg.MultiPartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        name="onnx_policy",
        partitions_def=partitions_def,
        # evaluation_report is a dependency so its blocking gate stops the export
        deps=["evaluation_report", "policy"],
        group_name="export",
        kinds={"onnx"},
        check_specs=[
            dg.AssetCheckSpec(
                PARITY,
                asset="onnx_policy",
                blocking=True,
                description="ONNX (onnxruntime) vs PyTorch actions on sampled observations; a failure stops deployment.",
            )
        ],
        description="Observation normalizer + policy mean exported to ONNX, with latency percentiles.",
    )
    def onnx_policy(context: dg.AssetExecutionContext, launcher: TrainerLauncher):
        task, region = task_region(context)
        policy = latest_metadata(context, "policy", context.partition_key)
        run_dir, checkpoint = require(policy, "policy", "run_dir", "checkpoint_uri")
        # the config the policy was trained with, not a newer one that has not been trained yet
        (snapshot,) = require(policy, "policy", "task_config_snapshot")
        request = LaunchRequest(
            task=task,
            region=region,
            step="export",
            config_yaml=Path(snapshot).read_text(),
            args=["--run-dir", run_dir, "--checkpoint", checkpoint_name(checkpoint), "--out", f"{run_dir}/export/{context.run.run_id}"],
            gpus=0,  # export and parity run on CPU everywhere
        )
        results = launcher.launch(context, request).get_results()
        mat = single_materialization(results, "export")
        require(plain(mat.metadata), "trainer export", "onnx_uri", "onnx_sha256")
        checks = [r for r in results if isinstance(r, dg.AssetCheckResult)]
        if not any(c.check_name == PARITY for c in checks):
            raise dg.Failure(f"trainer export reported no {PARITY} check through Pipes")
        yield mat
        yield from checks

    return onnx_policy
