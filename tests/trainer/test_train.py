"""Real CPU training (Isaac Lab Cartpole, kit-less Newton): run directory, MLflow, resume after SIGKILL, warm-start,
tampered checkpoints, same-seed reproducibility."""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.trainer.cartpole_run import (
    CARTPOLE_CONFIG,
    ROOT,
    read_metrics,
    run_trainer,
    small_cartpole_config,
    trainer_env,
)
from trainer.config import load_task_config

_AGENT = load_task_config(CARTPOLE_CONFIG).resolved()["agent"]["agent"]  # task_configs/cartpole.yaml as trained
ROLLOUTS = _AGENT["rollouts"]  # metrics and PPO updates every ROLLOUTS steps
UPDATE_STEPS = _AGENT["learning_epochs"] * _AGENT["mini_batches"]  # optimizer steps per PPO update
# the tests of the session's trained run share one pytest-xdist worker (it trains once); the others are free
TRAINED = pytest.mark.xdist_group(name="trained_cartpole")


def _policy_std(path: Path) -> float:
    """The exploration std a checkpoint's policy starts from (skrl's GaussianMixin: exp of its log_std parameter)."""
    import torch

    policy = torch.load(path, map_location="cpu", weights_only=True)["policy"]
    return float(next(v for k, v in policy.items() if k.endswith("log_std_parameter")).exp().mean())


def _adam_steps(path: Path) -> int:
    import torch

    state = torch.load(path, map_location="cpu", weights_only=True)["optimizer"]["state"]
    return int(next(iter(state.values()))["step"])


@TRAINED
def test_trained_run_directory_is_complete_and_consistent(trained_cartpole):
    run_dir = trained_cartpole.run_dir
    for name in ("config.resolved.yaml", "agent.yaml", "manifest.json", "train_result.json", "metrics.jsonl"):
        assert (run_dir / name).is_file(), name
    manifest = trained_cartpole.manifest
    assert manifest["task"] == "isaaclab:Isaac-Cartpole-Direct" and manifest["seed"] == 42
    assert manifest["num_envs"] == 512 and manifest["device"] == "cpu"
    assert manifest["env_runtime"] == "torch"  # evaluate/export refuse a config for the other runtime
    assert manifest["timesteps_done"] == manifest["timesteps_target"] == 1280
    assert {"torch", "skrl", "isaaclab"} <= set(manifest["packages"])
    from trainer.config import load_task_config
    from trainer.files import sha256_file

    assert manifest["config_sha256"] == load_task_config(trained_cartpole.config_path).config_sha256()
    names = set(manifest["checkpoints"])
    assert names == {f"agent_{s}.pt" for s in range(320, 1281, 320)} | {"best_agent.pt"}
    on_disk = {p.name for p in (run_dir / "checkpoints").iterdir()}
    assert on_disk == names  # no stray temp files
    for name, entry in manifest["checkpoints"].items():
        path = run_dir / "checkpoints" / name
        assert entry["sha256"] == sha256_file(path) and entry["bytes"] == path.stat().st_size

    metrics = trained_cartpole.metrics()
    assert [m["timestep"] for m in metrics] == list(range(ROLLOUTS, 1281, ROLLOUTS))
    assert all(m["env_steps"] == m["timestep"] * 512 for m in metrics)
    result = trained_cartpole.result
    assert result["env_steps"] == 1280 * 512 and result["env_steps_per_s"] > 0
    assert result["best_checkpoint_sha256"] == manifest["checkpoints"]["best_agent.pt"]["sha256"]
    assert "env-steps/s" in trained_cartpole.log and "ETA" in trained_cartpole.log


@TRAINED
def test_cartpole_learns_to_balance(trained_cartpole):
    # returns are logged once episodes finish: the first write (32 steps) has none yet
    metrics = [m for m in trained_cartpole.metrics() if "Reward/Total_reward_mean" in m]
    first, last = metrics[0], metrics[-1]
    # The training (stochastic) policy already keeps the pole up for nearly the whole 300-step episode.
    assert last["Episode/Total_timesteps_mean"] >= 270, last
    assert last["Reward/Total_reward_mean"] > first["Reward/Total_reward_mean"] + 3


@TRAINED
def test_mlflow_received_metrics_params_and_artifacts(trained_cartpole):
    from mlflow import MlflowClient

    client = MlflowClient(trained_cartpole.tracking_uri)
    run = client.get_run(trained_cartpole.manifest["mlflow_run_id"])
    assert run.info.status == "FINISHED"
    assert trained_cartpole.result["mlflow_run_id"] == run.info.run_id
    metrics = run.data.metrics
    for name in ("Reward/Total_reward_mean", "Episode/Total_timesteps_mean", "Loss/Policy_loss",
                 "Loss/Value_loss", "Policy/Standard_deviation", "Learning/Learning_rate", "Stats/env_steps_per_s"):
        assert name in metrics, sorted(metrics)
    history = client.get_metric_history(run.info.run_id, "Reward/Total_reward_mean")
    logged = [m["env_steps"] for m in trained_cartpole.metrics() if "Reward/Total_reward_mean" in m]
    assert [h.step for h in sorted(history, key=lambda h: h.step)] == logged
    assert any(k.startswith("system/") for k in metrics), "system metrics (psutil) missing"
    assert run.data.params["task.num_envs"] == "512"
    assert run.data.params["agent.agent.rollouts"] == str(ROLLOUTS)
    assert run.data.tags["config_sha256"] == trained_cartpole.manifest["config_sha256"]
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"manifest.json", "train_result.json", "metrics.jsonl", "config.resolved.yaml"} <= artifacts
    ckpts = {Path(a.path).name for a in client.list_artifacts(run.info.run_id, "checkpoints")}
    assert {"agent_1280.pt", "best_agent.pt"} <= ckpts


@TRAINED
def test_tampered_checkpoint_is_refused(trained_cartpole, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(trained_cartpole.run_dir, run_dir)
    ckpt = run_dir / "checkpoints" / "agent_1280.pt"
    data = bytearray(ckpt.read_bytes())
    data[len(data) // 2] ^= 0xFF
    ckpt.write_bytes(bytes(data))
    t0 = time.monotonic()
    proc = run_trainer("train", "--config", trained_cartpole.config_path, "--run-dir", run_dir, "--resume",
                       "--no-tracking", check=False)
    assert proc.returncode == 2, proc.stderr
    assert "agent_1280.pt does not match its manifest" in proc.stderr and "Traceback" not in proc.stderr
    assert time.monotonic() - t0 < 30  # refused before any simulator starts
    # warm-starting from a tampered file is refused the same way
    proc = run_trainer("train", "--config", trained_cartpole.config_path, "--run-dir", tmp_path / "new",
                       "--warm-start", ckpt, "--no-tracking", check=False)
    assert proc.returncode == 2 and "does not match its manifest" in proc.stderr
    assert not (tmp_path / "new").exists()


@TRAINED
def test_existing_run_without_resume_is_bad_input(trained_cartpole, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(trained_cartpole.run_dir, run_dir)
    before = (run_dir / "manifest.json").read_bytes()
    proc = run_trainer("train", "--config", trained_cartpole.config_path, "--run-dir", run_dir, "--no-tracking",
                       check=False)
    assert proc.returncode == 2 and "pass --resume" in proc.stderr
    assert (run_dir / "manifest.json").read_bytes() == before


def _wait_for_checkpoint(run_dir: Path, proc: subprocess.Popen, at_least: int, timeout: float = 600) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "training ended before it could be killed"
        try:
            done = json.loads((run_dir / "manifest.json").read_text()).get("timesteps_done", 0)
        except (FileNotFoundError, json.JSONDecodeError):
            done = 0
        if done >= at_least:
            return done
        time.sleep(0.2)
    raise AssertionError(f"no checkpoint >= {at_least} within {timeout} s")


@TRAINED
def test_resume_after_sigkill_continues_while_warm_start_resets(trained_cartpole, tmp_path, request):
    config = small_cartpole_config(tmp_path / "small.yaml")
    # the warm start (checked at the end) is independent of the kill and resume: it trains alongside them
    warm_dir = tmp_path / "warm"
    best = trained_cartpole.run_dir / "checkpoints" / "best_agent.pt"
    side = concurrent.futures.ThreadPoolExecutor(1)
    request.addfinalizer(side.shutdown)  # a failing assertion below still waits for it: no stray trainer
    warm_run = side.submit(run_trainer, "train", "--config", config, "--run-dir", warm_dir, "--warm-start", best,
                           "--timesteps", "64", "--warm-start-sha256",
                           trained_cartpole.result["best_checkpoint_sha256"], "--no-tracking")
    run_dir = tmp_path / "run"
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "trainer", "train", "--config", str(config), "--run-dir", str(run_dir),
         "--tracking-uri", tracking],
        cwd=ROOT, env=trainer_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        checkpointed = _wait_for_checkpoint(run_dir, proc, 128)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    killed_manifest = json.loads((run_dir / "manifest.json").read_text())
    assert killed_manifest["timesteps_done"] < 256
    before = {m["timestep"]: m for m in read_metrics(run_dir)}

    run_trainer("train", "--config", config, "--run-dir", run_dir, "--resume", "--tracking-uri", tracking)
    result = json.loads((run_dir / "train_result.json").read_text())
    # continued from its last checkpoint (loses at most one checkpoint interval) to the same target
    assert result["start_timestep"] == killed_manifest["timesteps_done"] >= checkpointed
    assert result["timesteps"] == 256 and result["env_steps"] == (256 - result["start_timestep"]) * 64
    assert result["mlflow_run_id"] == killed_manifest["mlflow_run_id"]
    metrics = read_metrics(run_dir)
    assert [m["timestep"] for m in metrics] == list(range(ROLLOUTS, 257, ROLLOUTS))  # no gap, no duplicate
    start = result["start_timestep"]
    resumed = {m["timestep"]: m for m in metrics}
    assert all(resumed[t] == before[t] for t in range(ROLLOUTS, start + 1, ROLLOUTS))  # history kept as written
    # the policy was restored, not re-initialised: exploration std continues from where the kill left it
    first_after = resumed[start + ROLLOUTS]
    assert first_after["Policy/Standard_deviation"] == pytest.approx(before[start]["Policy/Standard_deviation"],
                                                                     abs=0.05)
    # and so was the optimizer: Adam's step count equals an uninterrupted run's (updates x epochs x mini-batches)
    assert _adam_steps(run_dir / "checkpoints" / "agent_256.pt") == UPDATE_STEPS * 256 // ROLLOUTS
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert {f"agent_{s}.pt" for s in (64, 128, 192, 256)} <= set(manifest["checkpoints"])

    # warm-start from the trained policy: weights only, counters from zero, optimizer afresh
    warm_run.result(timeout=1800)
    warm = json.loads((warm_dir / "train_result.json").read_text())
    assert warm["start_timestep"] == 0 and warm["warm_started_from"] == str(best)
    warm_metrics = read_metrics(warm_dir)
    assert [m["timestep"] for m in warm_metrics] == list(range(ROLLOUTS, 65, ROLLOUTS))
    # the trained weights came along (a fresh policy starts at std 1.0 and falls over within ~100 steps) ...
    assert warm_metrics[0]["Policy/Standard_deviation"] == pytest.approx(_policy_std(best), abs=0.05)
    assert (warm_metrics[-1]["Reward/Instantaneous_reward_mean"]
            > trained_cartpole.metrics()[0]["Reward/Instantaneous_reward_mean"])
    # ... but not the optimizer or counters: Adam starts again (64 steps' worth of updates, not the trained run's)
    assert _adam_steps(warm_dir / "checkpoints" / "agent_64.pt") == UPDATE_STEPS * 64 // ROLLOUTS
    assert _adam_steps(best) > UPDATE_STEPS * 64 // ROLLOUTS


@pytest.mark.slow
def test_same_seed_reproduces_the_same_curve_with_and_without_the_cpu_graph(tmp_path):
    """Same seed, same curve; and replaying physics as a Warp CPU graph (trainer/cpu_graph.py) changes nothing."""
    runs = {
        "a": small_cartpole_config(tmp_path / "a.yaml", timesteps=96, checkpoint_interval=96),
        "b": small_cartpole_config(tmp_path / "b.yaml", timesteps=96, checkpoint_interval=96),
        "eager": small_cartpole_config(tmp_path / "eager.yaml", timesteps=96, checkpoint_interval=96,
                                       performance={"cpu_graph": False}),
    }
    # three independent processes: run side by side (each pays ~10 s of start-up, mostly one core's work)
    with concurrent.futures.ThreadPoolExecutor(len(runs)) as pool:
        procs = {name: pool.submit(run_trainer, "train", "--config", config, "--run-dir", tmp_path / name,
                                   "--no-tracking") for name, config in runs.items()}
        procs = {name: future.result() for name, future in procs.items()}
    curves = {}
    for name, proc in procs.items():
        # Isaac Lab times its graph capture; it only happens on the graph path
        assert ("CUDA graph took" in proc.stdout + proc.stderr) == (name != "eager")
        # and the run reports the switch as it ran (trainer/performance.py), not as it was asked for
        performance = json.loads((tmp_path / name / "train_result.json").read_text())["performance"]
        assert performance["active"]["cpu_graph"] is (name != "eager")
        assert ("cpu_graph" in performance["requested"]) is (name != "eager") and performance["off"] == []
        curves[name] = [
            {k: v for k, v in m.items() if not k.startswith("Stats/") and k != "wall_s"}
            for m in read_metrics(tmp_path / name)
        ]
    assert len(curves["a"]) == 96 // ROLLOUTS
    assert curves["a"] == curves["b"] == curves["eager"]
    import torch

    policies = [torch.load(tmp_path / n / "checkpoints" / "agent_96.pt", weights_only=True)["policy"] for n in runs]
    first = policies[0]
    assert all(p.keys() == first.keys() and all(torch.equal(p[k], first[k]) for k in p) for p in policies[1:])


def _first_metric_written(run_dir: Path, proc: subprocess.Popen, timeout: float = 600) -> int:
    """The timestep of metrics.jsonl's first line (written right after the first PPO update), polled."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "training ended before it could be signalled"
        with contextlib.suppress(FileNotFoundError, json.JSONDecodeError, IndexError):
            return json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[0])["timestep"]
        time.sleep(0.05)
    raise AssertionError(f"no metrics within {timeout} s")


@pytest.mark.slow
def test_sigterm_checkpoints_the_update_it_is_in_and_resume_continues_from_it(tmp_path):
    """A preempted pod: SIGTERM to the trainer (as the kubelet sends it) under a Dagster Pipes session (as a launcher
    runs it). It finishes the PPO update in progress, writes that step's checkpoint, says so through Pipes, closes the
    session, and exits 143; --resume continues from exactly that update."""
    import dagster as dg

    far = 16000  # the run is stopped long before this (and long before its first interval checkpoint)
    config = small_cartpole_config(tmp_path / "small.yaml", timesteps=far, checkpoint_interval=far)
    run_dir = tmp_path / "run"
    command = [sys.executable, "-m", "trainer", "train", "--config", str(config), "--run-dir", str(run_dir),
               "--no-tracking"]
    seen: dict = {}

    @dg.asset
    def policy(context):
        with dg.open_pipes_session(context=context, context_injector=dg.PipesEnvContextInjector(),
                                   message_reader=dg.PipesTempFileMessageReader()) as session:
            proc = subprocess.Popen(command, cwd=ROOT, env={**trainer_env(), **session.get_bootstrap_env_vars()},
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                    start_new_session=True)
            try:
                seen["signalled_after"] = _first_metric_written(run_dir, proc)
                proc.send_signal(signal.SIGTERM)  # the process, not its group: what Kubernetes signals is PID 1
                seen["output"], _ = proc.communicate(timeout=300)
                seen["code"] = proc.returncode
            finally:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
        return dg.MaterializeResult(metadata={"exit_code": proc.returncode})  # no materialization of its own

    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([policy], instance=instance)
    assert result.success
    assert seen["code"] == 143, seen["output"][-3000:]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    stopped_at = manifest["timesteps_done"]
    # the update that was running (or the next one) completed and was checkpointed; training did not run to the end
    assert seen["signalled_after"] <= stopped_at < far and stopped_at % ROLLOUTS == 0
    assert set(manifest["checkpoints"]) == {f"agent_{stopped_at}.pt"}  # the only one: the interval never came
    assert _adam_steps(run_dir / "checkpoints" / f"agent_{stopped_at}.pt") == UPDATE_STEPS * stopped_at // ROLLOUTS
    assert {p.name for p in (run_dir / "checkpoints").iterdir()} == set(manifest["checkpoints"])  # nothing else
    line = f"SIGTERM: stopped after the PPO update of step {stopped_at}"
    assert line in seen["output"] and "Traceback" not in seen["output"]
    logs = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert any(line in message for message in logs), "the stop is reported through Pipes"
    assert not any("did not receive closed message" in m or "closed with exception" in m for m in logs), logs

    # a SIGKILL in the middle of a later write would leave its temp file (trainer/files.py): the resume drops it
    (run_dir / "checkpoints" / f".agent_{stopped_at + ROLLOUTS}.pt.k1ll3d.tmp").write_bytes(b"half a checkpoint")
    # resumed to a nearer target (--timesteps), to keep this short: two more updates
    target = stopped_at + 2 * ROLLOUTS
    run_trainer("train", "--config", config, "--run-dir", run_dir, "--resume", "--timesteps", target,
                "--no-tracking")
    result = json.loads((run_dir / "train_result.json").read_text())
    assert result["start_timestep"] == stopped_at and result["resumed_from"].endswith(f"agent_{stopped_at}.pt")
    assert [m["timestep"] for m in read_metrics(run_dir)] == list(range(ROLLOUTS, target + 1, ROLLOUTS))
    # every update exactly once across the two processes: Adam's step count is an uninterrupted run's
    assert _adam_steps(run_dir / "checkpoints" / f"agent_{target}.pt") == UPDATE_STEPS * target // ROLLOUTS
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert {p.name for p in (run_dir / "checkpoints").iterdir()} == set(manifest["checkpoints"])
