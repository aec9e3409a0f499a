"""Sweep files: the shipped one expands as documented; bad files are refused naming the file, the field and the fix;
the early-stopping rules decide as specified. Pure Python (no training, no Dagster run)."""

from pathlib import Path

import pytest
import yaml

from robotics_assets.lib.early_stopping import TrialMonitor, halving_stop, median_stop
from robotics_assets.lib.sweep_files import (
    SweepError,
    configurations,
    is_trial_partition,
    load_sweep,
    parse_sweep,
    split_trial,
)
from robotics_assets.lib.task_sources import FolderSource
from tests.assets.conftest import ROOT

TASKS = ROOT / "task_configs"
REGIONS = ["eastus", "westeurope"]


read_base = FolderSource(TASKS).read  # what the sweep sensor reads bases with


def load(text: str, name: str = "s", regions=REGIONS):
    return load_sweep(name, text.encode(), read_base, location="tc/sweeps", regions=regions)


GOOD = {
    "name": "s", "base": "inverted_pendulum",
    "search": {"method": "grid", "parameters": {"agent.overrides.agent.learning_rate": {"values": [1e-3, 3e-3]}}},
    "metric": {"name": "mean_return"},
}


def sweep_yaml(**changes) -> str:
    data = {**GOOD, **changes}
    return yaml.safe_dump({k: v for k, v in data.items() if v is not None}, sort_keys=False)


@pytest.mark.parametrize("path", sorted((TASKS / "sweeps").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_sweep_files_expand_into_valid_trials(path: Path):
    sweep = load_sweep(path.stem, path.read_bytes(), read_base, location=str(path.parent), regions=REGIONS)
    assert sweep.trials and all(split_trial(t.name) == (path.stem, t.index) for t in sweep.trials)
    again = load_sweep(path.stem, path.read_bytes(), read_base, location=str(path.parent), regions=REGIONS)
    assert [(t.name, t.region, t.config_yaml) for t in again.trials] == [
        (t.name, t.region, t.config_yaml) for t in sweep.trials]  # deterministic names, regions and configs


def test_grid_random_and_seeds():
    grid = load(sweep_yaml(seeds=[1, 2], regions=["westeurope"]))
    assert [t.name for t in grid.trials] == ["s--t00", "s--t01", "s--t02", "s--t03"]
    assert [t.params for t in grid.trials] == [
        {"agent.overrides.agent.learning_rate": lr, "seed": seed} for lr in (1e-3, 3e-3) for seed in (1, 2)]
    assert {t.region for t in grid.trials} == {"westeurope"}
    assert "seed: 2" in grid.trials[1].config_yaml and "learning_rate: 0.001" in grid.trials[1].config_yaml
    rnd = {"method": "random", "trials": 5, "seed": 7, "parameters": {
        "agent.overrides.agent.learning_rate": {"min": 1e-5, "max": 1e-2, "scale": "log"},
        "agent.overrides.agent.mini_batches": {"values": [2, 4, 8]},
        "num_envs": {"min": 4, "max": 16, "integer": True}}}
    first = load(sweep_yaml(search=rnd))
    assert len(first.trials) == 5 and [t.region for t in first.trials] == REGIONS * 2 + ["eastus"]
    assert [t.params for t in load(sweep_yaml(search=rnd)).trials] == [t.params for t in first.trials]
    assert [t.params for t in load(sweep_yaml(search={**rnd, "seed": 8})).trials] != [t.params for t in first.trials]
    for t in first.trials:
        assert 1e-5 <= t.params["agent.overrides.agent.learning_rate"] <= 1e-2
        assert isinstance(t.params["num_envs"], int) and 4 <= t.params["num_envs"] <= 16
    assert first.sha256 != load(sweep_yaml(search={**rnd, "seed": 8})).sha256


def test_trial_partition_keys():
    assert split_trial("pendulum_lr--t03") == ("pendulum_lr", 3)
    assert split_trial("pendulum-lr") is None and split_trial("a--b") is None
    assert is_trial_partition("eastus|pendulum_lr--t03") and not is_trial_partition("eastus|cartpole")


LR = "agent.overrides.agent.learning_rate"


@pytest.mark.parametrize(("changes", "expected"), [
    ({"name": "other"}, "tc/sweeps/s.yaml: name: 'other' must match the file name 's'"),
    ({"base": "nosuch"}, "tc/sweeps/s.yaml: base: 'nosuch': "),
    ({"metric": {"name": "loss"}}, ("tc/sweeps/s.yaml: metric.name: Input should be 'mean_return' or "
                                   "'mean_episode_length', got 'loss'")),
    ({"regions": ["mars"]}, ("tc/sweeps/s.yaml: regions: mars not among the enabled regions (allowed: eastus, "
                            "westeurope)")),
    ({"search": {"method": "grid", "trials": 3, "parameters": {LR: {"values": [1e-3]}}}},
     "tc/sweeps/s.yaml: search: method: grid runs every combination; remove trials"),
    ({"search": {"method": "random", "parameters": {LR: {"values": [1e-3]}}}},
     "tc/sweeps/s.yaml: search: method: random needs trials: N"),
    ({"search": {"method": "grid", "parameters": {LR: {"min": 1e-4, "max": 1e-2}}}},
     "method: grid needs values: [..] for every parameter; agent.overrides.agent.learning_rate give a min/max range"),
    ({"search": {"method": "random", "trials": 2, "parameters": {LR: {"min": 0, "max": 1, "scale": "log"}}}},
     f"tc/sweeps/s.yaml: search.parameters.{LR}: scale: log needs min > 0"),
    ({"search": {"method": "grid", "parameters": {"task": {"values": ["gymnasium:Hopper-v5"]}}}},
     "tc/sweeps/s.yaml: search.parameters.task: not a field a sweep may vary (allowed: seed"),
    ({"search": {"method": "grid", "parameters": {"agent.overrides.models.policy.class": {"values": ["x"]}}}},
     ("trial s--t00 {\"agent.overrides.models.policy.class\": \"x\"} is not a valid task config: "
     "agent.overrides.models")),
    ({"search": {"method": "grid", "parameters": {LR: {"values": [-1.0]}}}},
     "tc/sweeps/s.yaml: trial s--t00 {\"agent.overrides.agent.learning_rate\": -1.0} is not a valid task config"),
    ({"seeds": [1], "search": {"method": "grid", "parameters": {"seed": {"values": [3]}}}},
     "tc/sweeps/s.yaml: search.parameters.seed: seeds are already a dimension"),
    ({"early_stopping": {"rule": "asha"}}, ("tc/sweeps/s.yaml: early_stopping.rule: Input should be 'none', "
                                           "'median' or 'successive_halving', got 'asha'")),
    ({"early_stopping": {"rule": "median", "grace": 5}}, "tc/sweeps/s.yaml: early_stopping.grace: unknown field"),
    ({"search": {"method": "random", "trials": 101, "parameters": {LR: {"values": [1e-3]}}}},
     "tc/sweeps/s.yaml: search: 101 trials (allowed: at most 100"),
    ({"name": "a--b"}, "tc/sweeps/s.yaml: name: 'a--b' is not a sweep name"),
])
def test_bad_sweep_files_name_file_field_and_fix(changes, expected):
    with pytest.raises(SweepError) as e:
        load(sweep_yaml(**changes))
    assert expected in str(e.value)


def test_hostile_yaml_is_refused_before_parsing():
    with pytest.raises(SweepError, match=r"tc/sweeps/s.yaml: <yaml>: line 1, column 4: YAML anchors and aliases"):
        parse_sweep("a: &x [1]\nb: *x\n", name="s", location="tc/sweeps")
    with pytest.raises(SweepError, match=r"key 'base' appears twice"):
        parse_sweep(sweep_yaml() + "base: cartpole\n", name="s", location="tc/sweeps")


def test_grid_order_is_file_order_last_parameter_fastest():
    spec = parse_sweep(sweep_yaml(search={"method": "grid", "parameters": {
        LR: {"values": [1, 2]}, "seed": {"values": [5, 6]}}}), name="s")
    assert configurations(spec) == [{LR: 1, "seed": 5}, {LR: 1, "seed": 6}, {LR: 2, "seed": 5}, {LR: 2, "seed": 6}]


def test_median_stopping_rule():
    done = [{100: 10.0, 200: 20.0, 300: 30.0}, {100: 12.0, 200: 22.0, 300: 32.0}]
    # at 200 the completed trials' running averages are 15 and 17 (median 16)
    assert median_stop({100: 5.0, 200: 15.9}, done, maximize=True, grace=100, min_completed=2)
    assert median_stop({100: 5.0, 200: 16.1}, done, maximize=True, grace=100, min_completed=2) is None
    assert median_stop({100: 1.0}, done, maximize=True, grace=200, min_completed=2) is None  # grace
    assert median_stop({100: 1.0, 200: 1.0}, done[:1], maximize=True, grace=100, min_completed=2) is None
    assert median_stop({100: 20.0, 200: 17.0}, done, maximize=False, grace=100, min_completed=2)  # minimize


def test_successive_halving():
    done = [{100: 1.0, 300: 3.0}, {100: 2.0, 300: 6.0}, {100: 3.0, 300: 9.0}]
    # rung 100 (grace), factor 3: 4 values, keep the top 1 -> only a value above 3.0 survives
    assert halving_stop({100: 2.5}, done, maximize=True, grace=100, factor=3, min_completed=2)
    assert halving_stop({100: 3.5}, done, maximize=True, grace=100, factor=3, min_completed=2) is None
    assert halving_stop({100: 3.5, 300: 5.0}, done, maximize=True, grace=100, factor=3, min_completed=2)


def test_monitor_reads_streamed_metrics_and_stops_once():
    completed_calls = []

    def completed():
        completed_calls.append(1)
        return [{256: 10.0, 512: 20.0}, {256: 12.0, 512: 24.0}]

    monitor = TrialMonitor(metric="mean_return", direction="maximize",
                           rule={"rule": "median", "grace_timesteps": 512, "min_completed_trials": 2},
                           completed=completed)
    assert monitor.check([{"type": "metric", "timestep": 256, "mean_return": 3.0}]) is None
    assert completed_calls == []  # nothing is read before the grace period
    messages = [{"type": "metric", "timestep": 256, "mean_return": 3.0},
                {"type": "metric", "timestep": 512, "mean_return": 4.0, "mean_episode_length": 5.0}, "other"]
    reason = monitor.check(messages)
    assert reason and "timestep 512" in reason and monitor.stopped == reason
    assert monitor.curve == {256: 3.0, 512: 4.0}
    monitor.observe([{"type": "metric", "timestep": 768, "mean_return": 9.0}])  # points after the last check
    assert monitor.curve == {256: 3.0, 512: 4.0, 768: 9.0}
    none = TrialMonitor(metric="mean_return", direction="maximize", rule={"rule": "none"}, completed=completed)
    assert none.check(messages) is None
