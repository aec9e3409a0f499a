"""Checkpoints are data, never code: weights-only loads, the orchestrator's sha256, verified warm starts (issue 15).

A hostile run folder holds a pickle checkpoint whose manifest was forged to match it: nothing may execute (the
canary file never appears), and every entry point refuses it with exit 2 / CheckpointError. No simulator starts.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.trainer.cartpole_run import CARTPOLE_CONFIG, ROOT, trainer_env
from tests.trainer.spec_agent import spec_agent
from trainer import checkpoints
from trainer.checkpoints import CheckpointError
from trainer.files import sha256_file


class _Payload:
    """Unpickling this creates the canary file: what a hostile checkpoint would do with os.system."""

    def __init__(self, canary: Path) -> None:
        self.canary = canary

    def __reduce__(self):
        return (os.makedirs, (str(self.canary),))


def _agent():
    return spec_agent(str(CARTPOLE_CONFIG), device="cpu", num_envs=2, memory_size=8, agent={})


def _write_run(run_dir: Path, payload: object, name: str = "best_agent.pt") -> tuple[Path, str]:
    """A run folder whose manifest lists `payload` with its true sha256 (a forged, self-consistent manifest)."""
    path = checkpoints.checkpoint_path(run_dir, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(payload, path)
    manifest = {"task": "isaaclab:Isaac-Cartpole-Direct", "checkpoints": {}}
    entry = checkpoints.record_checkpoint(run_dir, manifest, path, 64)
    return path, entry["sha256"]


@pytest.fixture()
def hostile(tmp_path):
    canary = tmp_path / "canary"
    run_dir = tmp_path / "run"
    path, sha = _write_run(run_dir, {"policy": _Payload(canary)})
    yield run_dir, path, sha, canary
    assert not canary.exists(), "a hostile checkpoint executed code"


def test_a_forged_manifest_does_not_make_a_pickle_loadable(hostile):
    _, path, sha, _ = hostile
    assert checkpoints.verify(path)["sha256"] == sha  # the manifest alone vouches for it ...
    with pytest.raises(CheckpointError, match="not a weights-only checkpoint.*unsupported GLOBAL os.makedirs"):
        checkpoints.load(path, sha)  # ... but the weights-only unpickler refuses the callable, naming it


def test_evaluate_and_resume_refuse_the_hostile_checkpoint_through_the_agent(hostile):
    """restore_policy (evaluate/export) and train's resume load into a skrl agent: never with skrl's own loader."""
    from trainer.config import load_task_config
    from trainer.export import spec_env, task_interface
    from trainer.trained_run import restore_policy, verified_checkpoint

    run_dir, path, sha, _ = hostile
    cfg = load_task_config(CARTPOLE_CONFIG)
    assert verified_checkpoint(run_dir, None) == (path, sha)
    interface = task_interface(cfg, 4, 1)
    with pytest.raises(CheckpointError, match="not a weights-only checkpoint"):
        restore_policy(spec_env(interface.observation_space, interface.action_space), cfg, run_dir, path, sha)
    with pytest.raises(CheckpointError, match="not a weights-only checkpoint"):
        checkpoints.load_agent(_agent(), path, sha)


@pytest.mark.parametrize("sha_arg", [None, "recorded"])
def test_export_cli_refuses_the_hostile_run_with_exit_2(hostile, tmp_path, sha_arg):
    run_dir, _, sha, canary = hostile
    extra = ["--checkpoint-sha256", sha] if sha_arg else []  # even the orchestrator's own record is not enough
    proc = subprocess.run(
        [sys.executable, "-m", "trainer", "export", "--config", str(CARTPOLE_CONFIG), "--run-dir", str(run_dir),
         "--out", str(tmp_path / "out"), *extra],
        check=False, cwd=ROOT, env=trainer_env(), capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "not a weights-only checkpoint" in proc.stderr
    assert not canary.exists()
    assert not (tmp_path / "out" / "policy.onnx").exists()


def test_a_checkpoint_that_differs_from_the_orchestrators_record_is_refused_with_exit_2(tmp_path):
    """The manifest (same writable store) agrees with the file; the sha256 Dagster recorded does not: refused."""
    from trainer.trained_run import verified_checkpoint

    agent = _agent()
    run_dir = tmp_path / "run"
    path, sha = _write_run(run_dir, {"policy": agent.policy.state_dict()})
    recorded = "ab" * 32
    with pytest.raises(CheckpointError, match="does not match --checkpoint-sha256.*refusing to load it"):
        verified_checkpoint(run_dir, None, recorded)
    with pytest.raises(CheckpointError, match="is not a sha256"):
        verified_checkpoint(run_dir, None, "abc")
    assert verified_checkpoint(run_dir, Path("best_agent.pt"), sha.upper()) == (path, sha)
    proc = subprocess.run(
        [sys.executable, "-m", "trainer", "evaluate", "--config", str(CARTPOLE_CONFIG), "--run-dir", str(run_dir),
         "--out", str(tmp_path / "eval"), "--checkpoint-sha256", recorded],
        check=False, cwd=ROOT, env=trainer_env(), capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "does not match --checkpoint-sha256" in proc.stderr and "Traceback" not in proc.stderr


def test_warm_start_needs_a_manifest_entry_or_a_sha256(tmp_path):
    from trainer.config import load_task_config
    from trainer.run_dir import RunDirError, check_request

    cfg = load_task_config(CARTPOLE_CONFIG)
    agent = _agent()
    loose = tmp_path / "downloads" / "policy.pt"  # no run directory around it
    loose.parent.mkdir()
    checkpoints.atomic_torch_save({"policy": agent.policy.state_dict()}, loose)
    sha = sha256_file(loose)
    with pytest.raises(CheckpointError, match="cannot be verified.*--warm-start-sha256"):
        check_request(cfg, tmp_path / "new", warm_start=loose)
    with pytest.raises(CheckpointError, match="does not match --warm-start-sha256"):
        check_request(cfg, tmp_path / "new", warm_start=loose, warm_start_sha256="0" * 64)
    with pytest.raises(RunDirError, match="needs --warm-start"):
        check_request(cfg, tmp_path / "new", warm_start_sha256=sha)
    assert check_request(cfg, tmp_path / "new", warm_start=loose, warm_start_sha256=sha)[2] == (loose, sha)
    # a checkpoint of a run directory is vouched for by its manifest
    listed, listed_sha = _write_run(tmp_path / "source", {"policy": agent.policy.state_dict()})
    assert check_request(cfg, tmp_path / "new", warm_start=listed)[2] == (listed, listed_sha)
    assert not (tmp_path / "new").exists()  # read-only checks


def test_warm_start_cli_without_verification_is_exit_2(tmp_path):
    loose = tmp_path / "policy.pt"
    checkpoints.atomic_torch_save({"policy": {"w": torch.zeros(2)}}, loose)
    proc = subprocess.run(
        [sys.executable, "-m", "trainer", "train", "--config", str(CARTPOLE_CONFIG), "--run-dir",
         str(tmp_path / "run"), "--warm-start", str(loose), "--no-tracking"],
        check=False, cwd=ROOT, env=trainer_env(), capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "cannot be verified" in proc.stderr and not (tmp_path / "run").exists()


def test_what_the_trainer_saves_loads_weights_only_with_training_state(tmp_path):
    """skrl keeps its best reward as np.float64; the writer stores plain numbers so weights-only loads accept it."""
    agent = _agent()
    from trainer.agent import TrainingState

    state = agent.checkpoint_modules["training_state"]
    assert isinstance(state, TrainingState)
    state.timestep = 96
    agent.checkpoint_best_modules.update(timestep=64, reward=np.mean([1.0, 2.5]))
    modules = {name: agent._get_internal_value(m) for name, m in agent.checkpoint_modules.items()}
    path = tmp_path / "agent_96.pt"
    checkpoints.atomic_torch_save(modules, path)
    sha = sha256_file(path)
    raw = torch.load(path, weights_only=True)  # torch's own weights-only unpickler
    assert type(raw["training_state"]["best_reward"]) is float
    assert raw["training_state"]["torch_rng"].dtype == torch.uint8

    fresh = _agent()
    checkpoints.load_agent(fresh, path, sha)
    restored = fresh.checkpoint_modules["training_state"]
    assert restored.timestep == 96 and fresh.checkpoint_best_modules["reward"] == 1.75
    assert all(torch.equal(a, b) for a, b in zip(fresh.policy.state_dict().values(),
                                                agent.policy.state_dict().values(), strict=True))
    path.write_bytes(path.read_bytes() + b"\0")  # swapped after verification: the bytes loaded are re-hashed
    with pytest.raises(CheckpointError, match="changed since it was verified"):
        checkpoints.load_agent(fresh, path, sha)


def test_no_code_path_unpickles_with_weights_only_false():
    """Every torch.load in the trainer and benchmarks is weights-only, and skrl's own Agent.load is never called."""
    offenders = []
    for path in [*(ROOT / "trainer").rglob("*.py"), *(ROOT / "bench").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            owner = ast.unparse(node.func.value)
            if node.func.attr == "load" and owner == "torch":
                flags = {k.arg: ast.unparse(k.value) for k in node.keywords}
                if flags.get("weights_only") != "True":
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} torch.load without weights_only=True")
            if node.func.attr == "load" and owner.endswith("agent"):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} skrl Agent.load (weights_only=False)")
    assert offenders == []


def test_resume_refuses_another_isaac_lab_runtime(tmp_path):
    """A policy learns one runtime's observations: a resume may not switch it (runs from before the record may)."""
    import json

    from trainer.config import load_task_config
    from trainer.run_dir import RunDirError, check_request

    cfg = load_task_config(CARTPOLE_CONFIG)  # performance.env_frontend: torch (the default)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    manifest = {"task": cfg.task, "seed": cfg.seed, "num_envs": cfg.num_envs, "checkpoints": {}}
    (run_dir / "manifest.json").write_text(json.dumps({**manifest, "env_runtime": "warp"}))
    with pytest.raises(RunDirError, match=r"cannot resume with a different env_runtime \(run: 'warp', now: 'torch'\)"):
        check_request(cfg, run_dir, resume=True)
    (run_dir / "manifest.json").write_text(json.dumps(manifest))  # an older run: nothing recorded, nothing refused
    assert check_request(cfg, run_dir, resume=True)[0]["task"] == cfg.task
