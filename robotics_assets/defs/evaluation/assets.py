"""`evaluation_report`: deterministic evaluation of the policy, with the blocking `evaluation_gate` check."""


from pathlib import Path

import dagster as dg

from robotics_assets.defs.training.assets import plain, single_materialization
from robotics_assets.lib.launch import LaunchRequest, TrainerLauncher
from robotics_assets.lib.partitions import task_region
from robotics_assets.lib.upstream import (
    checkpoint_name,
    cli_flags,
    latest_metadata,
    require,
)

GATE = "evaluation_gate"


def build_evaluation_asset(partitions_def: dg.MultiPartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        name="evaluation_report",
        partitions_def=partitions_def,
        deps=["policy"],
        group_name="evaluation",
        kinds={"markdown"},
        check_specs=[
            dg.AssetCheckSpec(
                GATE,
                asset="evaluation_report",
                blocking=True,
                description="The task config's success criteria; a failure stops export and deployment.",
            )
        ],
        description="Seeded evaluation in a fresh environment: numbers as a table, reward curve and histogram.",
    )
    def evaluation_report(context: dg.AssetExecutionContext, launcher: TrainerLauncher):
        task, region = task_region(context)
        policy = latest_metadata(context, "policy", context.partition_key)
        run_dir, checkpoint = require(policy, "policy", "run_dir", "checkpoint_uri")
        # the config the policy was trained with, not a newer one that has not been trained yet
        (snapshot,) = require(policy, "policy", "task_config_snapshot")
        request = LaunchRequest(
            task=task,
            region=region,
            step="evaluate",
            config_yaml=Path(snapshot).read_text(),
            args=[
                "--run-dir", run_dir,
                "--checkpoint", checkpoint_name(checkpoint),
                "--out", f"{run_dir}/evaluation/{context.run.run_id}",
                *cli_flags(launcher.settings.raw.training.evaluate_args),
            ],
            gpus=launcher.gpus(region),
        )
        results = launcher.launch(context, request).get_results()
        mat = single_materialization(results, "evaluate")
        require(plain(mat.metadata), "trainer evaluate", "passed", "report_path")
        checks = [r for r in results if isinstance(r, dg.AssetCheckResult)]
        if not any(c.check_name == GATE for c in checks):
            raise dg.Failure(f"trainer evaluate reported no {GATE} check through Pipes")
        yield mat
        yield from checks

    return evaluation_report
