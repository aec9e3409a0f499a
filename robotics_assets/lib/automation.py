"""Declarative automation: train once per new task × region and on config changes; the rest follows training."""

from __future__ import annotations

import dagster as dg

AC = dg.AutomationCondition


def train_on_new_or_changed_config() -> dg.AutomationCondition:
    """Like `eager()`, but upstream *data version* changes, not mere re-materializations, retrain: re-running an
    unchanged task config (same content hash) does not spend GPU-hours."""
    # Only the task config's content retrains; a changed region infrastructure output marks policies stale but does
    # not spend GPU-hours by itself (observations of an external asset are not "missing" materializations either).
    config = dg.AssetSelection.assets("task_config")
    return (
        AC.in_latest_time_window()
        & (AC.newly_missing() | AC.any_deps_match(AC.data_version_changed()).allow(config)).since_last_handled()
        & ~AC.any_deps_missing().allow(config)
        & ~AC.any_deps_in_progress()
        & ~AC.in_progress()
    ).with_label("train_on_new_or_changed_config")


def follow_upstream_unless_gate_failed() -> dg.AutomationCondition:
    """`eager()`, but not while an upstream blocking check has failed: inside a run the blocking check already stops
    the chain; this stops a later tick from exporting a policy whose gate failed. (`all_deps_blocking_checks_passed`
    would instead split train -> evaluate -> export over several ticks.)"""
    gate_failed = AC.any_deps_match(AC.any_checks_match(AC.check_failed(), blocking_only=True))
    return (AC.eager() & ~gate_failed).with_label("eager_unless_upstream_gate_failed")


def conditions() -> dict[str, dg.AutomationCondition]:
    return {
        "policy": train_on_new_or_changed_config(),
        "evaluation_report": AC.eager(),
        "onnx_policy": follow_upstream_unless_gate_failed(),
        "deployed_policy": follow_upstream_unless_gate_failed(),
    }
