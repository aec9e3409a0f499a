"""Trainer steps as assets run them: the one materialization a step reports over Pipes, its metadata as plain
values, and `run_policy_step`, which launches `evaluate` or `export` on the partition's trained policy (the
`evaluation_report` and `onnx_policy` assets)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg

from robotics_assets.lib.launch import LaunchRequest, TrainerLauncher
from robotics_assets.lib.partitions import task_region
from robotics_assets.lib.upstream import (
    checkpoint_name,
    latest_metadata,
    metadata_value,
    require,
)


def single_materialization(results: list, step: str) -> dg.MaterializeResult:
    mats = [r for r in results if isinstance(r, dg.MaterializeResult)]
    if len(mats) != 1:
        raise dg.Failure(f"trainer {step} reported {len(mats)} materializations through Pipes (expected exactly 1)")
    return mats[0]


def plain(metadata: dict[str, Any]) -> dict[str, Any]:
    return {k: metadata_value(v) for k, v in (metadata or {}).items()}


def run_policy_step(
    context: dg.AssetExecutionContext,
    launcher: TrainerLauncher,
    *,
    step: str,
    check: str,
    required: tuple[str, ...],
    extra_args: list[str],
    gpus: int,
) -> tuple[dg.AssetMaterialization | dg.MaterializeResult, list[dg.AssetCheckResult]]:
    """Run `python -m trainer <step>` on this partition's policy; returns its materialization and check results.

    Uses the config the policy was trained with (its snapshot), not a newer one that has not been trained yet, and
    fails the asset when the trainer reported no materialization, lacks `required` metadata or omits `check`.
    """
    task, region = task_region(context)
    policy = latest_metadata(context, "policy", context.partition_key)
    # the checkpoint's sha256 as Dagster recorded it: the run folder's own manifest sits in the same writable store
    run_dir, checkpoint, checkpoint_sha = require(policy, "policy", "run_dir", "checkpoint_uri", "checkpoint_sha256")
    (snapshot,) = require(policy, "policy", "task_config_snapshot")
    request = LaunchRequest(
        task=task,
        region=region,
        step=step,
        config_yaml=Path(snapshot).read_text(),
        args=[
            "--run-dir", run_dir,
            "--checkpoint", checkpoint_name(checkpoint),
            "--checkpoint-sha256", str(checkpoint_sha),
            "--out", f"{run_dir}/{'evaluation' if step == 'evaluate' else step}/{context.run.run_id}",
            *extra_args,
        ],
        gpus=gpus,
    )
    results = launcher.launch(context, request).get_results()
    mat = single_materialization(results, step)
    require(plain(mat.metadata), f"trainer {step}", *required)
    checks = [r for r in results if isinstance(r, dg.AssetCheckResult)]
    if not any(c.check_name == check for c in checks):
        raise dg.Failure(f"trainer {step} reported no {check} check through Pipes")
    return mat, checks
