"""`sweep_report`: one per sweep: the trials as a table, their curves and parameter-vs-metric plots, the best trial."""

import json

import dagster as dg

from robotics_assets.defs.sweeps import report
from robotics_assets.defs.tasks.resources import TaskConfigStore
from robotics_assets.defs.training.trials import sweep_trial_records
from robotics_assets.lib.partitions import REGION_DIM, TASK_DIM, sweep_partitions
from robotics_assets.lib.settings import current_settings
from robotics_assets.lib.sweep_files import SweepError


def build_sweep_report_asset() -> dg.AssetsDefinition:
    @dg.asset(
        name="sweep_report",
        partitions_def=sweep_partitions,
        deps=["policy"],
        group_name="sweeps",
        kinds={"markdown"},
        description="The sweep's trials (parameters, metric, status, GPU-hours and cost), metric curves, parameter "
        "vs metric, and the best completed trial, whose policy the sweep sensor sends through evaluation, export "
        "and promotion.",
    )
    def sweep_report(context: dg.AssetExecutionContext, task_configs: TaskConfigStore) -> dg.MaterializeResult:
        try:
            sweep = task_configs.sweep(context.partition_key)
        except SweepError as e:
            raise dg.Failure(description=str(e), allow_retries=False) from None
        settings = current_settings()
        keys = {(t.name, r): str(dg.MultiPartitionKey({TASK_DIM: t.name, REGION_DIM: r}))
                for t in sweep.trials for r in settings.regions}
        found = sweep_trial_records(context.instance, list(keys.values()))
        records: dict[str, dict[str, dict]] = {}
        for (trial, region), key in keys.items():
            if key in found:
                records.setdefault(trial, {})[region] = found[key]
        rows = report.rows(sweep, records)
        winner = report.best(sweep, rows)
        out = settings.data_dir / "sweeps" / sweep.name / sweep.sha256[:16]
        out.mkdir(parents=True, exist_ok=True)
        curves = report.plot_curves(sweep, rows, out / "metric_curves.png", winner.trial if winner else None)
        params = report.plot_params(sweep, rows, out / "params_vs_metric.png")
        counts = {s: sum(r.status == s for r in rows) for s in ("completed", "stopped", "missing")}
        if winner is None:
            context.log.warning(f"sweep {sweep.name}: no completed trial yet; nothing to promote")
        meta = {
            "sweep_sha256": sweep.sha256,
            "base": sweep.spec.base,
            "metric": sweep.spec.metric.name,
            "direction": sweep.spec.metric.direction,
            "early_stopping": sweep.spec.early_stopping.rule,
            "trials": report.table(rows),
            **{f"trials_{s}": n for s, n in counts.items()},
            "total_gpu_hours": round(sum(r.gpu_hours for r in rows), 6),
            "total_cost": round(sum(r.cost for r in rows), 4),
            "metric_curves": dg.MetadataValue.md(report.markdown_image(curves, "metric curves")),
            "params_vs_metric": dg.MetadataValue.md(report.markdown_image(params, "parameter vs metric")),
            "plots_dir": dg.MetadataValue.path(str(out)),
        }
        if winner is not None:
            meta.update(
                best_trial=winner.trial,
                best_partition=str(dg.MultiPartitionKey({TASK_DIM: winner.trial, REGION_DIM: winner.region})),
                best_metric_value=winner.metric,
                best_params=dg.MetadataValue.json(winner.params),
            )
            context.log.info(f"sweep {sweep.name}: best trial {winner.trial} in {winner.region} "
                             f"({sweep.spec.metric.name} {winner.metric:.4g}, {json.dumps(winner.params)})")
        return dg.MaterializeResult(metadata=meta)

    return sweep_report
