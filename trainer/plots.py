"""Evaluation plots: learning curve from a run's metrics.jsonl and the episode-return histogram.

matplotlib is imported inside the functions with the Agg backend, so importing this module stays cheap and never
needs a display.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

# skrl's tracking names ("Reward / Total reward (mean)") reach metrics.jsonl sanitized for MLflow; comparing the
# names with every non-alphanumeric character removed finds them whatever the sanitizer did to spaces and brackets.
_RETURN_KEY = "rewardtotalrewardmean"
_LENGTH_KEY = "episodetotaltimestepsmean"


def _squash(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def read_learning_curve(metrics_path: Path) -> dict[str, list[float]]:
    """Env-steps, mean return and mean episode length per write interval; empty lists when nothing was logged."""
    curve: dict[str, list[float]] = {"env_steps": [], "mean_return": [], "mean_episode_length": []}
    if not metrics_path.is_file():
        return curve
    for line in metrics_path.read_text().splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a killed training run
        by_squashed = {_squash(k): v for k, v in row.items()}
        ret = by_squashed.get(_RETURN_KEY)
        if ret is None:
            continue
        curve["env_steps"].append(float(row.get("env_steps", row.get("timestep", len(curve["env_steps"])))))
        curve["mean_return"].append(float(ret))
        length = by_squashed.get(_LENGTH_KEY)
        curve["mean_episode_length"].append(float("nan") if length is None else float(length))
    return curve


def plot_learning_curve(metrics_path: Path, out_path: Path, *, title: str) -> Path:
    """Mean return (and mean episode length on a second axis) against env-steps."""
    plt = _pyplot()
    curve = read_learning_curve(metrics_path)
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=80)
    if curve["env_steps"]:
        ax.plot(curve["env_steps"], curve["mean_return"], color="tab:blue", label="mean return")
        ax.set_xlabel("env-steps")
        ax.set_ylabel("mean return", color="tab:blue")
        ax2 = ax.twinx()
        ax2.plot(curve["env_steps"], curve["mean_episode_length"], color="tab:orange", label="mean episode length")
        ax2.set_ylabel("mean episode length", color="tab:orange")
    else:
        ax.text(0.5, 0.5, f"no training metrics in {metrics_path.name}", ha="center", va="center")
        ax.set_axis_off()
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(out_path)
    plt.close(fig)
    return out_path


def plot_return_histogram(
    returns: Sequence[float], out_path: Path, *, title: str, threshold: float | None = None
) -> Path:
    """Histogram of per-episode returns, with the success threshold marked when there is one."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=80)
    ax.hist(list(returns), bins=min(30, max(5, len(returns) // 4)), color="tab:blue", alpha=0.8)
    if threshold is not None:
        ax.axvline(threshold, color="tab:red", linestyle="--", label=f"mean-return threshold {threshold:g}")
        ax.legend()
    ax.set_xlabel("episode return")
    ax.set_ylabel("episodes")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(out_path)
    plt.close(fig)
    return out_path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
