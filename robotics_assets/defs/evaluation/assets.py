"""`evaluation_report`: deterministic evaluation of the policy, with the blocking `evaluation_gate` check."""

import dagster as dg

from robotics_assets.defs.training.policy_steps import run_policy_step
from robotics_assets.lib.launch import TrainerLauncher
from robotics_assets.lib.partitions import task_region
from robotics_assets.lib.upstream import cli_flags

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
        mat, checks = run_policy_step(
            context, launcher, step="evaluate", check=GATE, required=("passed", "report_path"),
            extra_args=cli_flags(launcher.settings.raw.training.evaluate_args),
            gpus=launcher.gpus(task_region(context)[1]),
        )
        yield mat
        yield from checks

    return evaluation_report
