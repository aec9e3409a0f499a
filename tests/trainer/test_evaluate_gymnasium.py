"""Evaluation on a gymnasium MuJoCo task, in-process (no simulator start): seeding and a gate that fails.

The checkpoint is an untrained InvertedPendulum policy recorded in a run manifest, so the gate must fail, and the
episodes are short enough to evaluate repeatedly in a second or two.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.xdist_group(name="evaluate_gymnasium")  # its module fixture trains once

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pendulum(tmp_path_factory):
    from trainer import checkpoints
    from trainer.agent import build_runner
    from trainer.config import load_task_config
    from trainer.envs import make_env

    cfg = load_task_config(ROOT / "task_configs" / "inverted_pendulum.yaml")
    run_dir = tmp_path_factory.mktemp("pendulum_run")
    path = checkpoints.checkpoint_path(run_dir, "agent_0.pt")
    path.parent.mkdir(parents=True)
    with make_env(cfg, num_envs=2) as env:
        runner = build_runner(env, cfg.agent_cfg(), run_dir / "scratch", training=False)
        runner.agent.save(str(path))
    checkpoints.record_checkpoint(run_dir, {"task": cfg.task}, path, 0)
    return cfg, run_dir


def test_same_seed_same_numbers_other_seed_other_episodes(pendulum, tmp_path):
    from trainer.evaluate import evaluate

    cfg, run_dir = pendulum
    first = evaluate(cfg, run_dir, tmp_path / "a", seed=11)
    again = evaluate(cfg, run_dir, tmp_path / "b", seed=11)
    other = evaluate(cfg, run_dir, tmp_path / "c", seed=12)
    assert first["returns"] == again["returns"] and first["lengths"] == again["lengths"]
    assert other["returns"] != first["returns"]
    assert json.loads((tmp_path / "a" / "evaluation.json").read_text())["returns"] == first["returns"]


def test_untrained_policy_fails_the_gate(pendulum, tmp_path):
    from trainer.evaluate import main

    _, run_dir = pendulum
    config = ROOT / "task_configs" / "inverted_pendulum.yaml"
    assert main(["--config", str(config), "--run-dir", str(run_dir), "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "evaluation.json").read_text())
    assert result["episodes"] == 10 and result["max_episode_length"] == 1000
    assert result["passed"] is False and result["mean_episode_length"] < 950
    assert not any(c["met"] for c in result["criteria"])
    assert "FAILED" in (tmp_path / "report.md").read_text()
    # a run without training metrics still gets a (placeholder) learning-curve image
    assert (tmp_path / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"
