"""`onnx_policy`: the policy exported to ONNX, with the `onnx_parity` check against the PyTorch policy."""

import dagster as dg

from robotics_assets.lib.launch import TrainerLauncher
from robotics_assets.lib.metadata import with_metadata, with_uris
from robotics_assets.lib.trainer_steps import run_policy_step
from trainer.check_names import ONNX_PARITY

PARITY = ONNX_PARITY


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
        mat, checks = run_policy_step(
            context, launcher, step="export", check=PARITY, required=("onnx_uri", "onnx_sha256"),
            extra_args=[], gpus=0,  # export and parity run on CPU everywhere
        )
        yield with_metadata(mat, with_uris(dict(mat.metadata or {})))
        yield from checks

    return onnx_policy
