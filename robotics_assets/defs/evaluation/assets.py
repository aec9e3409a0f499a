"""`evaluation_report`: deterministic evaluation of the policy, with the blocking `evaluation_gate` check."""

import dagster as dg

from robotics_assets.lib.instance import TRAINING_POOL
from robotics_assets.lib.launch import TrainerLauncher
from robotics_assets.lib.metadata import gate_with_table, with_metadata, with_uris
from robotics_assets.lib.partitions import task_region
from robotics_assets.lib.trainer_steps import run_policy_step
from robotics_assets.lib.upstream import cli_flags
from trainer.check_names import EVALUATION_GATE

GATE = EVALUATION_GATE


def build_evaluation_asset(partitions_def: dg.MultiPartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        name="evaluation_report",
        partitions_def=partitions_def,
        deps=["policy"],
        group_name="evaluation",
        kinds={"markdown"},
        pool=TRAINING_POOL,  # it holds the region's GPUs like a training does, so it counts against the same limit
        check_specs=[
            dg.AssetCheckSpec(
                GATE,
                asset="evaluation_report",
                blocking=True,
                description="The task config's success criteria; a failure stops export and deployment.",
            )
        ],
        description="Seeded evaluation in a fresh environment: numbers, the success criteria as a table, reward "
        "curve and histogram.",
    )
    def evaluation_report(context: dg.AssetExecutionContext, launcher: TrainerLauncher):
        mat, checks = run_policy_step(
            context, launcher, step="evaluate", check=GATE, required=("passed", "report_path"),
            extra_args=cli_flags(launcher.settings.raw.training.evaluate_args),
            gpus=launcher.gpus(task_region(context)[1]),
        )
        checks = [gate_with_table(c) if c.check_name == GATE else c for c in checks]
        gate = next(c for c in checks if c.check_name == GATE)
        yield with_metadata(mat, {**with_uris(dict(mat.metadata or {})), "criteria": gate.metadata["criteria"]})
        yield from checks

    return evaluation_report
