"""The human-readable side of an evaluation: a short report.md and PNGs small enough to inline in Dagster metadata."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def markdown_image(png_path: Path, alt: str) -> str:
    """Markdown image with the PNG inlined as a data URI: Dagster's MetadataValue has no image type."""
    data = base64.b64encode(png_path.read_bytes()).decode("ascii")
    return f"![{alt}](data:image/png;base64,{data})"


def write_report(result: Mapping[str, Any], out_path: Path, *, plots: Mapping[str, str]) -> Path:
    """Write report.md for an evaluation result (the dict written to evaluation.json); plots map title -> file name."""
    verdict = "PASSED" if result["passed"] else "FAILED"
    lines = [
        f"# Evaluation of {result['task']}: {verdict}",
        "",
        (
            f"Checkpoint `{result['checkpoint']}` (sha256 `{result['checkpoint_sha256'][:16]}…`), "
            f"{result['episodes']} episodes, seed {result['seed']}, device `{result['device']}`, deterministic "
            "(mean) actions in a fresh environment."
        ),
        "",
        "| metric | value | criterion | met |",
        "|---|---|---|---|",
    ]
    checks = {c["metric"]: c for c in result["criteria"]}
    for metric in ("mean_return", "std_return", "mean_episode_length", "success_rate"):
        value = result[metric]
        check = checks.get(metric)
        criterion = f"{check['op']} {check['threshold']:g}" if check else ""
        met = ("yes" if check["met"] else "**no**") if check else ""
        lines.append(f"| {metric} | {value:.4g} | {criterion} | {met} |")
    lines += [
        "",
        (
            f"Returns ranged from {result['min_return']:.4g} to {result['max_return']:.4g}; episodes last at most "
            f"{result['max_episode_length']} steps. An episode counts as a success when "
            f"{result['episode_success_rule']}."
        ),
        "",
    ]
    for title, name in plots.items():
        lines += [f"![{title}]({name})", ""]
    out_path.write_text("\n".join(lines))
    return out_path
