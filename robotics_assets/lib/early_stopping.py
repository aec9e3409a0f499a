"""Early stopping of sweep trials, decided on the orchestrator from the metric the trainer streams through Pipes.

Rules compare a running trial's curve (timestep -> metric) with the curves of the sweep's completed trials:
- `median` (Golovin et al., "Google Vizier", 2017): stop at step t when the trial's best value so far is worse than
  the median of the completed trials' running averages up to t;
- `successive_halving` (asynchronous, as in ASHA): at each rung grace x factor^k, continue only when the trial is
  within the top 1/factor of the completed trials' values at that rung.
Both decide nothing before `grace_timesteps` or with fewer than `min_completed_trials` completed trials. The policy
asset hands a `TrialMonitor` to the launcher; every backend polls it and cancels the launch through its own stop path
(local: the process group; k8s/OSMO: the remote loop's cancel), so the same rule holds on every backend.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

Curve = dict[int, float]  # timestep (per env) -> metric value

METRIC_MESSAGE = "metric"  # the trainer's Pipes custom messages: {"type": "metric", "timestep": .., <metric>: ..}


def curve_from_messages(messages: Sequence[Any], metric: str) -> Curve:
    """The trainer's streamed metric points (later points for a timestep win: a resumed attempt repeats some)."""
    curve: Curve = {}
    for m in messages:
        if isinstance(m, Mapping) and m.get("type") == METRIC_MESSAGE and m.get(metric) is not None:
            curve[int(m["timestep"])] = float(m[metric])
    return curve


def _better(a: float, b: float, maximize: bool) -> bool:
    return a > b if maximize else a < b


def _running_average(curve: Curve, upto: int) -> float | None:
    values = [v for t, v in curve.items() if t <= upto]
    return sum(values) / len(values) if values else None


def _value_at(curve: Curve, t: int) -> float | None:
    """The latest value at or before t."""
    points = [s for s in curve if s <= t]
    return curve[max(points)] if points else None


def median_stop(curve: Curve, completed: Sequence[Curve], *, maximize: bool, grace: int,
                min_completed: int) -> str | None:
    if not curve or len(completed) < min_completed:
        return None
    t = max(curve)
    if t < grace:
        return None
    averages = [a for c in completed if (a := _running_average(c, t)) is not None]
    if len(averages) < min_completed:
        return None
    median = statistics.median(averages)
    best = max(curve.values()) if maximize else min(curve.values())
    if _better(median, best, maximize):
        return (f"median stopping rule at timestep {t}: best so far {best:.4g} is worse than the median "
                f"{median:.4g} of {len(averages)} completed trials' running averages")
    return None


def halving_stop(curve: Curve, completed: Sequence[Curve], *, maximize: bool, grace: int, factor: int,
                 min_completed: int) -> str | None:
    if not curve or len(completed) < min_completed:
        return None
    t = max(curve)
    rung = grace
    while rung * factor <= t:
        rung *= factor
    if t < rung:
        return None
    mine = _value_at(curve, rung)
    others = [v for c in completed if (v := _value_at(c, rung)) is not None]
    if mine is None or len(others) < min_completed:
        return None
    ranked = sorted([*others, mine], reverse=maximize)
    keep = max(1, len(ranked) // factor)
    if ranked.index(mine) >= keep:
        return (f"successive halving at rung {rung}: {mine:.4g} is not in the top {keep} of {len(ranked)} "
                f"(1/{factor}) trials' values there")
    return None


class TrialMonitor:
    """A `LaunchMonitor` for one trial: `check(messages)` returns a reason to stop, or None.

    `completed()` returns the curves of the sweep's completed trials (read from the instance; refreshed at most
    every `check_interval_s`).
    """

    def __init__(self, *, metric: str, direction: str, rule: Mapping[str, Any],
                 completed: Callable[[], list[Curve]], log: Callable[[str], None] | None = None) -> None:
        self.metric = metric
        self.maximize = direction == "maximize"
        self.rule = dict(rule)
        self.interval_s = float(self.rule.get("check_interval_s", 1.0))
        self._completed = completed
        self._cache: tuple[float, list[Curve]] | None = None
        self._log = log
        self.curve: Curve = {}
        self.stopped: str | None = None
        self.started = time.monotonic()

    def completed(self) -> list[Curve]:
        now = time.monotonic()
        if self._cache is None or now - self._cache[0] >= max(self.interval_s, 2.0):
            self._cache = (now, self._completed())
        return self._cache[1]

    def observe(self, messages: Sequence[Any]) -> None:
        self.curve.update(curve_from_messages(messages, self.metric))

    def check(self, messages: Sequence[Any]) -> str | None:
        self.observe(messages)
        if self.stopped or self.rule.get("rule", "none") == "none" or not self.curve:
            return self.stopped
        grace = int(self.rule.get("grace_timesteps", 1))
        if max(self.curve) < grace:
            return None
        minimum = int(self.rule.get("min_completed_trials", 2))
        if self.rule["rule"] == "median":
            reason = median_stop(self.curve, self.completed(), maximize=self.maximize, grace=grace,
                                 min_completed=minimum)
        else:
            reason = halving_stop(self.curve, self.completed(), maximize=self.maximize, grace=grace,
                                  factor=int(self.rule.get("reduction_factor", 3)), min_completed=minimum)
        if reason:
            self.stopped = reason
            if self._log:
                self._log(f"[sweep] early stop: {reason}")
        return reason
