"""`performance:` switches: each key is read, and a switch a shipped config sets is really on after its training.

The shipped-config test runs every file in task_configs/ whose device this machine has: on a CPU machine the CPU
configs (Cartpole reuses the session's `trained_cartpole` run from conftest.py), on the GPU machine (bench/gpu_session.sh tests) the
GPU configs, with all their switches (lean, cuda_graphs, env_frontend). Each trains two PPO updates through the CLI
and reads `performance` from train_result.json, which the trainer fills from the live agent and env
(trainer/performance.py), so a switch that a wiring forgets, or a capture that falls back, fails here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.trainer.cartpole_run import CARTPOLE_CONFIG, ROOT, run_trainer
from trainer.config import PerformanceSettings, load_task_config
from trainer.performance import requested, switched_off

SHIPPED = sorted((ROOT / "task_configs").glob("*.yaml"))


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def test_every_performance_key_changes_what_is_requested():
    """A key nothing reads is a defect: flipping each one changes the switches the trainer must see active."""
    base = load_task_config(ROOT / "task_configs" / "cartpole_gpu.yaml")
    flips = {"lean": False, "cuda_graphs": False, "cpu_graph": False, "env_frontend": "torch"}
    assert set(flips) == set(PerformanceSettings.model_fields), "a new performance key needs a case here"
    for key, value in flips.items():
        changed = base.model_copy(deep=True)
        setattr(changed.performance, key, value)
        device = "cpu" if key == "cpu_graph" else "cuda"  # the Warp CPU graph is the one CPU-only switch
        assert requested(base, device) != requested(changed, device), key


def test_a_switch_that_did_not_take_is_reported_off():
    want = {"lean": True, "cuda_graphs": True, "env_frontend": "warp"}
    ran = {"lean": True, "cuda_graphs": {"act": True, "update": False}, "cpu_graph": False, "env_frontend": "torch"}
    off = switched_off(want, ran)
    assert off == ["cuda_graphs (graphed: {'act': True, 'update': False})",
                   "env_frontend (requested 'warp', ran 'torch')"]
    assert switched_off(want, {**ran, "cuda_graphs": {"act": True, "update": True}, "env_frontend": "warp"}) == []


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_switch_a_shipped_config_sets_is_active(path: Path, tmp_path: Path, request):
    cfg = load_task_config(path)
    if cfg.device.startswith("cuda") and not _cuda_available():
        pytest.skip(f"{path.name} trains on CUDA; this machine has none (the GPU session runs it)")
    want = requested(cfg, cfg.device)
    if not want:
        pytest.skip(f"{path.name} sets no performance switch that applies on {cfg.device}")
    if path == CARTPOLE_CONFIG:
        result = request.getfixturevalue("trained_cartpole").result
    else:  # two PPO updates of the shipped config, as shipped otherwise
        rollouts = cfg.resolved()["agent"]["agent"]["rollouts"]
        data = yaml.safe_load(path.read_text())
        data.update(timesteps=2 * rollouts, checkpoint_interval=2 * rollouts)
        short = tmp_path / path.name
        short.write_text(yaml.safe_dump(data, sort_keys=False))
        run_trainer("train", "--config", short, "--run-dir", tmp_path / "run", "--no-tracking", timeout=900)
        result = json.loads((tmp_path / "run" / "train_result.json").read_text())
    performance = result["performance"]
    assert performance["requested"] == want
    assert performance["off"] == [], performance
    active = performance["active"]
    for name, value in want.items():
        assert active[name] == ({"act": True, "update": True} if name == "cuda_graphs" else value), name
