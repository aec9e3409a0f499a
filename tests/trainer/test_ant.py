"""Isaac Lab's Ant, offline, on CPU: a few PPO updates through the CLI, then the seeded evaluation (a smoke test).

The robot is the offline asset root's Ant (trainer/sim_assets.py; its physics is checked in test_sim_assets.py);
tests/trainer/ant_cpu.yaml turns on lean and the Warp CPU graph, so this run also shows both really ran.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.trainer.cartpole_run import ROOT, read_metrics, run_trainer, trainer_env

ANT_CPU = Path(__file__).with_name("ant_cpu.yaml")


@pytest.mark.slow
def test_ant_trains_and_evaluates_offline_on_cpu(tmp_path):
    run_dir = tmp_path / "run"
    run_trainer("train", "--config", ANT_CPU, "--run-dir", run_dir, "--no-tracking", timeout=900)
    result = json.loads((run_dir / "train_result.json").read_text())
    assert result["task"] == "isaaclab:Isaac-Ant-Direct" and result["env_steps"] == 48 * 32
    assert [m["timestep"] for m in read_metrics(run_dir)] == [16, 32, 48]  # Isaac Lab's Ant agent: 16 rollouts
    assert result["performance"]["active"]["lean"] and result["performance"]["active"]["cpu_graph"]
    assert result["performance"]["off"] == []

    out = tmp_path / "eval"
    proc = subprocess.run(
        [sys.executable, "-m", "trainer", "evaluate", "--config", str(ANT_CPU), "--run-dir", str(run_dir),
         "--out", str(out), "--episodes", "2"],
        cwd=ROOT, env=trainer_env(), capture_output=True, text=True, timeout=900, check=False,
    )
    assert proc.returncode in (0, 1), proc.stdout[-2000:] + proc.stderr[-2000:]  # 1: the gate failed (no criteria)
    report = json.loads((out / "evaluation.json").read_text())
    assert report["max_episode_length"] == 960  # 16 s at 60 Hz: Isaac Lab's Ant episode
    assert report["episodes"] == 2 and 1 <= report["mean_episode_length"] <= 960
