"""Declarative automation: train once per new task × region and on config changes; the rest follows training.

Dagster's `since_last_handled()` counts the condition's first evaluation as "handled", so a task × region whose
partition already existed when the daemon first ticked (quick start in one region, then `dagster dev`) would never
train. Here only a request or a materialization handles a trigger: whatever is missing at the first tick is
requested once. A training that failed is not requested again until its config changes (no endless retries).
"""

from __future__ import annotations

import dagster as dg

AC = dg.AutomationCondition


def since_requested_or_updated(trigger: dg.AutomationCondition) -> dg.AutomationCondition:
    """`since_last_handled()` without `initial_evaluation` among the resets (see the module docstring)."""
    return trigger.since((AC.newly_requested() | AC.newly_updated()).with_label("requested_or_updated"))


def train_on_new_or_changed_config() -> dg.AutomationCondition:
    """A never-built (or newly missing) partition trains once; a new *data version* of the task config retrains
    (re-materializing an unchanged config, same content hash, spends no GPU-hours). A partition whose latest
    training failed does not count as never built."""
    # Only the task config's content retrains; a changed region infrastructure output marks policies stale but does
    # not spend GPU-hours by itself (observations of an external asset are not "missing" materializations either).
    config = dg.AssetSelection.assets("task_config")
    never_built = (AC.missing() & ~AC.execution_failed()).newly_true().with_label("newly_missing_not_failed")
    return (
        AC.in_latest_time_window()
        & since_requested_or_updated(never_built | AC.any_deps_match(AC.data_version_changed()).allow(config))
        & ~AC.any_deps_missing().allow(config)
        & ~AC.any_deps_in_progress()
        & ~AC.in_progress()
    ).with_label("train_on_new_or_changed_config")


def follow_training() -> dg.AutomationCondition:
    """`eager()` with the same resets as training, so the chain is requested in the tick that requests training,
    the first tick included."""
    return (
        AC.in_latest_time_window()
        & since_requested_or_updated(
            (AC.missing() & ~AC.execution_failed()).newly_true().with_label("newly_missing_not_failed")
            | AC.any_deps_updated()
        )
        & ~AC.any_deps_missing()
        & ~AC.any_deps_in_progress()
        & ~AC.in_progress()
    ).with_label("follow_training")


def follow_unless_gate_failed() -> dg.AutomationCondition:
    """`follow_training()`, but not while an upstream blocking check has failed: inside a run the blocking check
    already stops the chain; this stops a later tick from exporting a policy whose gate failed.
    (`all_deps_blocking_checks_passed` would instead split train -> evaluate -> export over several ticks.)"""
    gate_failed = AC.any_deps_match(AC.any_checks_match(AC.check_failed(), blocking_only=True))
    return (follow_training() & ~gate_failed).with_label("follow_training_unless_gate_failed")


class SweepTrial(dg.AutomationCondition):
    """True for the partitions of sweep trials (`<sweep>--tNN`). Their training is requested by the sweep sensor
    in the sweep's regions only, and only the winner is evaluated, exported and deployed (defs/sweeps/sensors.py),
    so automation leaves them alone. No built-in condition selects partitions by key: this one runs in the code
    location (the automation sensor's `use_user_code_server`)."""

    @property
    def name(self) -> str:
        return "sweep_trial"

    def evaluate(self, context: dg.AutomationContext) -> dg.AutomationResult:  # type: ignore[override]
        from robotics_assets.lib.sweep_files import is_trial_partition

        candidates = context.candidate_subset
        trials = {k for k in candidates.expensively_compute_partition_keys() if is_trial_partition(k)}
        return dg.AutomationResult(context, candidates.compute_intersection_with_partition_keys(trials))


def not_a_sweep_trial(condition: dg.AutomationCondition) -> dg.AutomationCondition:
    return (condition & ~SweepTrial()).with_label(f"{condition.get_label() or condition.name}, not a sweep trial")


def conditions() -> dict[str, dg.AutomationCondition]:
    return {
        "policy": not_a_sweep_trial(train_on_new_or_changed_config()),
        "evaluation_report": not_a_sweep_trial(follow_training()),
        "onnx_policy": not_a_sweep_trial(follow_unless_gate_failed()),
        "deployed_policy": not_a_sweep_trial(follow_unless_gate_failed()),
    }
