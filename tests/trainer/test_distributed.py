"""Distributed training on CPU (trainer/distributed.py): 2 gloo ranks x 16 envs of the real Isaac Lab Cartpole,
launched by `python -m trainer train --nproc-per-node 2` exactly as a multi-GPU run is (torchrun underneath).

One 2-rank training per session serves most asserts; one short resume and a few fast bad-input cases add to it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.trainer.cartpole_run import (
    ROOT,
    read_metrics,
    run_trainer,
    small_cartpole_config,
    trainer_env,
)
from trainer import distributed

pytestmark = pytest.mark.xdist_group(name="two_ranks")

NUM_ENVS, TIMESTEPS, CHECKPOINT = 16, 48, 16  # rollouts are 16 in task_configs/cartpole.yaml: 3 PPO updates
RANKS = 2


class _Run:
    def __init__(self, config: Path, run_dir: Path, tracking_uri: str, log: str) -> None:
        self.config, self.run_dir, self.tracking_uri, self.log = config, run_dir, tracking_uri, log
        self.result = json.loads((run_dir / "train_result.json").read_text())
        self.manifest = json.loads((run_dir / "manifest.json").read_text())


@pytest.fixture(scope="session")
def two_ranks(tmp_path_factory: pytest.TempPathFactory) -> _Run:
    base = tmp_path_factory.mktemp("distributed")
    config = small_cartpole_config(base / "tiny.yaml", num_envs=NUM_ENVS, timesteps=TIMESTEPS,
                                   checkpoint_interval=CHECKPOINT)
    tracking_uri = f"sqlite:///{base / 'mlflow.db'}"
    proc = run_trainer("train", "--config", config, "--run-dir", base / "run", "--nproc-per-node", RANKS,
                       "--tracking-uri", tracking_uri, "--experiment", "tests-distributed", timeout=600)
    return _Run(config, base / "run", tracking_uri, proc.stdout + proc.stderr)


class _StateDicts:
    """A checkpoint entry (a state dict) standing in for the module it was saved from."""

    def __init__(self, state: dict) -> None:
        self._state = state

    def state_dict(self) -> dict:
        return self._state


def test_ranks_train_together_and_count_every_rank(two_ranks):
    result, manifest = two_ranks.result, two_ranks.manifest
    assert result["world_size"] == manifest["world_size"] == RANKS
    assert result["num_envs"] == manifest["num_envs"] == NUM_ENVS  # per rank
    assert result["total_envs"] == manifest["total_envs"] == NUM_ENVS * RANKS
    assert result["gpu_count"] == 0  # CPU ranks
    assert result["env_steps"] == TIMESTEPS * NUM_ENVS * RANKS
    assert [m["env_steps"] for m in read_metrics(two_ranks.run_dir)] == [
        t * NUM_ENVS * RANKS for t in range(CHECKPOINT, TIMESTEPS + 1, CHECKPOINT)
    ]
    assert "starting 2 ranks: torchrun --standalone --nproc-per-node=2" in two_ranks.log
    assert "Seed: 42" in two_ranks.log and "Seed: 43" in two_ranks.log  # seed + rank


def test_only_rank_0_writes_files_mlflow_and_progress(two_ranks):
    run_dir = two_ranks.run_dir
    names = sorted(p.name for p in run_dir.iterdir())
    tensorboard = [n for n in names if n.startswith("events.out.tfevents")]
    assert len(tensorboard) == 1, names  # skrl's writer exists on rank 0 only
    assert sorted(set(names) - set(tensorboard)) == [
        "agent.yaml", "checkpoints", "config.resolved.yaml", "manifest.json", "metrics.jsonl", "train_result.json"
    ]
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == [
        f"agent_{t}.pt" for t in (CHECKPOINT, 2 * CHECKPOINT, TIMESTEPS)
    ]
    assert sorted(two_ranks.manifest["checkpoints"]) == sorted(f"agent_{t}.pt" for t in (16, 32, 48))
    timesteps = [m["timestep"] for m in read_metrics(run_dir)]
    assert timesteps == sorted(set(timesteps))  # one writer: no line twice
    assert two_ranks.log.count(f"step {TIMESTEPS}/{TIMESTEPS} (100%)") == 1
    assert two_ranks.log.count("[trainer] done:") == 1

    from mlflow import MlflowClient

    client = MlflowClient(two_ranks.tracking_uri)
    experiment = client.get_experiment_by_name("tests-distributed")
    runs = client.search_runs([experiment.experiment_id])
    assert [r.info.run_id for r in runs] == [two_ranks.manifest["mlflow_run_id"]]
    params = runs[0].data.params
    assert params["distributed.world_size"] == "2"
    assert params["distributed.num_envs_per_rank"] == str(NUM_ENVS)
    assert params["distributed.total_envs"] == str(NUM_ENVS * RANKS)


def test_ranks_end_with_the_parameters_of_the_checkpoint(two_ranks):
    hashes = two_ranks.result["rank_parameters_sha256"]
    assert len(hashes) == RANKS and len(set(hashes)) == 1
    final = torch.load(two_ranks.run_dir / "checkpoints" / f"agent_{TIMESTEPS}.pt", map_location="cpu",
                       weights_only=True)
    assert hashes[0] == distributed.parameters_sha256({n: _StateDicts(final[n]) for n in ("policy", "value")})
    first = torch.load(two_ranks.run_dir / "checkpoints" / f"agent_{CHECKPOINT}.pt", map_location="cpu",
                       weights_only=True)
    assert hashes[0] != distributed.parameters_sha256({n: _StateDicts(first[n]) for n in ("policy", "value")})


def test_resume_continues_every_rank_from_rank_0s_checkpoint(two_ranks, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(two_ranks.run_dir, run_dir)
    # as if the launch was lost before its last checkpoint: the manifest (source of truth) ends at step 32
    manifest = json.loads((run_dir / "manifest.json").read_text())
    del manifest["checkpoints"][f"agent_{TIMESTEPS}.pt"]
    manifest["timesteps_done"] = 2 * CHECKPOINT
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    (run_dir / "checkpoints" / f"agent_{TIMESTEPS}.pt").unlink()
    (run_dir / "train_result.json").unlink()

    proc = run_trainer("train", "--config", two_ranks.config, "--run-dir", run_dir, "--resume", "--nproc-per-node",
                       RANKS, "--no-tracking", timeout=600)
    log = proc.stdout + proc.stderr
    result = json.loads((run_dir / "train_result.json").read_text())
    assert result["start_timestep"] == 2 * CHECKPOINT
    assert result["resumed_from"].endswith(f"agent_{2 * CHECKPOINT}.pt")
    assert result["env_steps"] == (TIMESTEPS - 2 * CHECKPOINT) * NUM_ENVS * RANKS
    assert len(set(result["rank_parameters_sha256"])) == 1
    assert log.count(f"(step {2 * CHECKPOINT})") == 1  # rank 0 alone says so
    resumed = json.loads((run_dir / "manifest.json").read_text())
    assert resumed["timesteps_done"] == TIMESTEPS and f"agent_{TIMESTEPS}.pt" in resumed["checkpoints"]
    assert [m["timestep"] for m in read_metrics(run_dir)] == [16, 32, 48]


def test_resume_with_another_world_size_is_bad_input(two_ranks, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(two_ranks.run_dir, run_dir)
    proc = run_trainer("train", "--config", two_ranks.config, "--run-dir", run_dir, "--resume", "--nproc-per-node",
                       "1", "--no-tracking", check=False, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "world_size (run: 2, now: 1)" in proc.stderr


def test_bad_input_is_refused_once_before_any_rank_starts(two_ranks, tmp_path):
    # each rank would refuse it too, but a rank that fails first gets the others killed before they can say why
    proc = run_trainer("train", "--config", two_ranks.config, "--run-dir", tmp_path / "run", "--nproc-per-node",
                       RANKS, "--no-tracking", "--asset-root", tmp_path / "missing", check=False, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.count("is not a folder") == 1 and "starting" not in proc.stdout
    assert not (tmp_path / "run").exists()


def test_bad_gpus_requests_are_named(tmp_path):
    on_cpu = small_cartpole_config(tmp_path / "cpu.yaml", gpus=2)
    proc = run_trainer("validate", on_cpu, check=False, timeout=120)
    assert proc.returncode == 2 and "gpus: more than one GPU" in proc.stderr and "device: cuda" in proc.stderr

    on_cuda = small_cartpole_config(tmp_path / "cuda.yaml", gpus=2, device="cuda")
    proc = subprocess.run(
        [sys.executable, "-m", "trainer", "train", "--config", str(on_cuda), "--run-dir", str(tmp_path / "run"),
         "--no-tracking"],
        cwd=ROOT, env=trainer_env(CUDA_VISIBLE_DEVICES=""), capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "gpus: the run asks for 2 GPUs (one process each) but this machine shows 0" in proc.stderr
    assert not (tmp_path / "run").exists()  # refused before any rank started

    proc = run_trainer("train", "--config", on_cuda, "--run-dir", tmp_path / "run", "--nproc-per-node", "0",
                       check=False, timeout=120)
    assert proc.returncode == 2 and "--nproc-per-node: 0 must be >= 1" in proc.stderr


def test_rank_devices_and_world_sizes():
    assert distributed.Rank(1, 1, 2).device("cuda") == "cuda:1"
    assert distributed.Rank(1, 1, 2).device("cpu") == "cpu"
    assert distributed.Rank().device("cuda:3") == "cuda:3"  # a lone process keeps its pinned device
    assert distributed.requested_world_size("cuda", 4, None) == 4
    assert distributed.requested_world_size("cpu", 1, None) == 1
    assert distributed.requested_world_size("cpu", 1, 3) == 3
    assert distributed.from_env({"RANK": "1", "LOCAL_RANK": "1", "WORLD_SIZE": "2"}) == distributed.Rank(1, 1, 2)


def test_a_sigterm_to_one_rank_stops_every_rank_at_the_same_update_and_rank_0_checkpoints_it(tmp_path):
    """The ranks agree at each update boundary: a signal that reached only rank 1 stops both after the same update,
    rank 0 (never signalled) writes the checkpoint, and the launcher exits 143 like a lone trainer."""
    import psutil

    far = 16000  # never reached, and no interval checkpoint before the stop
    config = small_cartpole_config(tmp_path / "far.yaml", num_envs=NUM_ENVS, timesteps=far, checkpoint_interval=far)
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "trainer", "train", "--config", str(config), "--run-dir", str(run_dir),
         "--nproc-per-node", str(RANKS), "--no-tracking"],
        cwd=ROOT, env=trainer_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 600
        while not (run_dir / "metrics.jsonl").is_file() or not (run_dir / "metrics.jsonl").read_text().strip():
            assert proc.poll() is None and time.monotonic() < deadline, "no training step before the signal"
            time.sleep(0.05)
        (rank_1,) = [child for child in psutil.Process(proc.pid).children(recursive=True)
                     if child.environ().get("RANK") == "1" and "trainer" in child.cmdline()]
        rank_1.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 143, output[-3000:]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    stopped_at = manifest["timesteps_done"]
    assert 0 < stopped_at < far and stopped_at % CHECKPOINT == 0
    assert sorted(manifest["checkpoints"]) == [f"agent_{stopped_at}.pt"]
    assert output.count(f"SIGTERM: stopped after the PPO update of step {stopped_at}") == 1  # rank 0 says it
    assert "Traceback" not in output
