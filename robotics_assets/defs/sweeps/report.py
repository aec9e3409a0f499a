"""The sweep report's contents: one row per trial, the best trial, and two plots (metric curves; parameter vs metric).

Pure functions over the trials' `policy` metadata, so the asset stays three lines and the ranking is testable.
matplotlib is imported inside the plot functions (Agg backend), never on the definitions' import path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg

from robotics_assets.lib.sweep_files import Sweep

COLUMNS = [
    dg.TableColumn("trial", "string"),
    dg.TableColumn("region", "string"),
    dg.TableColumn("params", "string"),
    dg.TableColumn("status", "string"),
    dg.TableColumn("metric", "float"),
    dg.TableColumn("timesteps", "int"),
    dg.TableColumn("gpu_hours", "float"),
    dg.TableColumn("cost", "float"),
    dg.TableColumn("wall_time_s", "float"),
]


@dataclass(frozen=True)
class TrialRow:
    trial: str
    region: str
    params: dict[str, Any]
    status: str  # completed | stopped | missing (failed or not run for this revision)
    metric: float | None
    curve: list[tuple[int, float]]
    timesteps: int | None
    gpu_hours: float
    cost: float
    wall_time_s: float | None


def rows(sweep: Sweep, records: dict[str, dict[str, dict[str, Any]]]) -> list[TrialRow]:
    """`records[trial][region]`: the latest policy metadata; only this sweep revision's count."""
    out = []
    for trial in sweep.trials:
        found = [(r, m) for r, m in records.get(trial.name, {}).items() if m.get("sweep_sha256") == sweep.sha256]
        found.sort(key=lambda rm: rm[0] != trial.region)  # its own region first
        region, meta = found[0] if found else (trial.region, {})
        curve = [(int(t), float(v)) for t, v in (meta.get("metric_curve") or [])]
        value = meta.get("metric_value")
        out.append(TrialRow(
            trial=trial.name, region=region, params=trial.params,
            status=str(meta.get("trial_status") or "missing"),
            metric=None if value is None else float(value), curve=curve,
            timesteps=max(t for t, _ in curve) if curve else None,  # reached (a stopped trial: when it stopped)
            gpu_hours=float(meta.get("gpu_hours") or 0.0), cost=float(meta.get("estimated_cost") or 0.0),
            wall_time_s=None if meta.get("wall_time_s") is None else float(meta["wall_time_s"]),
        ))
    return out


def best(sweep: Sweep, trial_rows: list[TrialRow]) -> TrialRow | None:
    """The completed trial with the best final metric (ties: the lower trial number); stopped trials never win."""
    done = [r for r in trial_rows if r.status == "completed" and r.metric is not None and math.isfinite(r.metric)]
    if not done:
        return None
    sign = -1.0 if sweep.spec.metric.direction == "maximize" else 1.0
    return min(done, key=lambda r: (sign * r.metric, r.trial))  # type: ignore[operator]


def table(trial_rows: list[TrialRow]) -> dg.TableMetadataValue:
    import json

    records = [dg.TableRecord({
        "trial": r.trial, "region": r.region, "params": json.dumps(r.params, sort_keys=True), "status": r.status,
        "metric": r.metric, "timesteps": r.timesteps, "gpu_hours": round(r.gpu_hours, 6), "cost": round(r.cost, 4),
        "wall_time_s": r.wall_time_s,
    }) for r in trial_rows]
    return dg.MetadataValue.table(records, schema=dg.TableSchema(columns=COLUMNS))


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_curves(sweep: Sweep, trial_rows: list[TrialRow], out: Path, winner: str | None) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 3.8), dpi=80)
    for r in trial_rows:
        if not r.curve:
            continue
        xs, ys = zip(*r.curve, strict=True)
        style = "--" if r.status == "stopped" else "-"
        ax.plot(xs, ys, style, linewidth=2.5 if r.trial == winner else 1.2,
                label=f"{r.trial.rsplit('--', 1)[1]} {r.status}" + (" (best)" if r.trial == winner else ""))
    ax.set_xlabel("timestep (per env)")
    ax.set_ylabel(sweep.spec.metric.name.replace("_", " "))
    ax.set_title(f"sweep {sweep.name}: {sweep.spec.metric.name} per trial (dashed: stopped early)")
    if any(r.curve for r in trial_rows):
        ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out


def plot_params(sweep: Sweep, trial_rows: list[TrialRow], out: Path) -> Path:
    """One panel per varied parameter: its value against the trial's final metric (stopped trials hollow)."""
    plt = _pyplot()
    names = sorted({k for r in trial_rows for k in r.params})
    fig, axes = plt.subplots(1, max(1, len(names)), figsize=(3.2 * max(1, len(names)), 3.2), dpi=80, squeeze=False)
    for ax, name in zip(axes[0], names or ["(none)"], strict=False):
        for r in trial_rows:
            value = r.params.get(name)
            if r.metric is None or not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            ax.scatter([value], [r.metric], facecolors="none" if r.status == "stopped" else "tab:blue",
                       edgecolors="tab:blue")
        values = [r.params[name] for r in trial_rows if isinstance(r.params.get(name), (int, float))]
        if values and min(values) > 0 and max(values) / min(values) >= 100:
            ax.set_xscale("log")
        ax.set_xlabel(name.rsplit(".", 1)[-1])
        ax.set_ylabel(sweep.spec.metric.name.replace("_", " "))
    fig.suptitle(f"sweep {sweep.name}: parameter vs {sweep.spec.metric.name} (hollow: stopped early)", fontsize=9)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out


def markdown_image(png: Path, alt: str) -> str:
    from trainer.report import markdown_image as inline

    return inline(png, alt)
