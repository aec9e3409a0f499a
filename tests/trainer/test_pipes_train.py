"""`python -m trainer train` launched through Dagster Pipes (as the local launcher runs it) on a gymnasium MuJoCo
task: progress lines reach the Dagster run log and one materialization carries the documented metadata.
Also: the same command outside Dagster runs standalone, and the progress line format/rate limit."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from trainer.pipes import PipesSession
from trainer.progress import Progress

pytestmark = pytest.mark.xdist_group(name="piped_training")  # its module fixture trains once

ROOT = Path(__file__).resolve().parents[2]
PENDULUM = ROOT / "task_configs" / "inverted_pendulum.yaml"
TRAIN_METADATA = {
    "mlflow_run_id", "mlflow_tracking_uri", "run_dir", "checkpoint_uri", "checkpoint_sha256", "env_steps_per_s",
    "wall_time_s", "train_time_s", "timesteps", "num_envs", "device", "gpu_count", "final_mean_return",
    "final_mean_episode_length", "performance_active", "performance_off",
}


@pytest.fixture(scope="module")
def piped_training(tmp_path_factory):
    import dagster as dg

    base = tmp_path_factory.mktemp("piped_train")
    run_dir = base / "run"
    command = [sys.executable, "-m", "trainer", "train", "--config", str(PENDULUM), "--run-dir", str(run_dir),
               "--num-envs", "4", "--timesteps", "512", "--tracking-uri", f"sqlite:///{base / 'mlflow.db'}"]

    @dg.asset(required_resource_keys={"pipes"})
    def policy(context):
        return context.resources.pipes.run(command=command, context=context, cwd=str(ROOT)).get_results()

    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([policy], resources={"pipes": dg.PipesSubprocessClient()}, instance=instance)
    assert result.success
    (mat,) = result.get_asset_materialization_events()
    logs = [entry.user_message for entry in instance.all_logs(result.run_id)]
    return run_dir, {k: v.value for k, v in mat.materialization.metadata.items()}, logs


def test_materialization_metadata(piped_training):
    run_dir, meta, _ = piped_training
    assert TRAIN_METADATA <= set(meta), sorted(TRAIN_METADATA - set(meta))
    result = json.loads((run_dir / "train_result.json").read_text())
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert meta["run_dir"] == str(run_dir) and meta["timesteps"] == 512 and meta["num_envs"] == 4
    assert meta["checkpoint_sha256"] == manifest["checkpoints"]["best_agent.pt"]["sha256"]
    assert meta["checkpoint_uri"] == (run_dir / "checkpoints" / "best_agent.pt").as_uri()
    assert meta["mlflow_run_id"] == result["mlflow_run_id"] == manifest["mlflow_run_id"]
    assert meta["device"] == "cpu" and meta["gpu_count"] == 0 and meta["env_steps_per_s"] > 0
    assert manifest["task"] == "gymnasium:InvertedPendulum-v5"
    assert meta["performance_active"] == result["performance"]["active"] and meta["performance_off"] == []
    assert meta["performance_active"]["lean"] is False  # inverted_pendulum.yaml leaves lean off


def test_progress_reaches_the_dagster_run_log(piped_training):
    _, _, logs = piped_training
    progress = [line for line in logs if "env-steps/s" in line]
    assert progress, logs[-20:]
    assert "step 512/512 (100%)" in progress[-1] and "mean return" in progress[-1] and "ETA" in progress[-1]


class _RecordingContext:
    """Stands in for dagster_pipes.PipesContext (Progress uses `.log.info` and `report_custom_message`)."""

    def __init__(self):
        self.lines: list[str] = []
        self.custom: list[dict] = []
        self.log = self

    def info(self, message: str) -> None:
        self.lines.append(message)

    def report_custom_message(self, payload: dict) -> None:
        self.custom.append(payload)


def test_progress_is_rate_limited_separately_for_console_and_dagster(monkeypatch):
    now = [0.0]
    monkeypatch.setattr("trainer.progress.time.monotonic", lambda: now[0])
    context = _RecordingContext()
    console = io.StringIO()
    progress = Progress(total_timesteps=100, start_timestep=0, num_envs=10, pipes=PipesSession(context),
                        console=console, console_every_s=5, pipes_every_s=15)
    for t, step, ret in ((1, 10, -1.0), (3, 20, 0.5), (6, 30, 1.0), (20, 40, 2.0)):
        now[0] = t
        progress.update(step, ret, 50.0)
    now[0] = 21
    progress.update(100, 3.0, 290.0, force=True)
    printed = console.getvalue().splitlines()
    assert len(printed) == 4 and len(context.lines) == 3  # console: t=1, 6, 20, final; Dagster: t=1, 20, final
    assert printed[-1].startswith("[trainer] step 100/100 (100%)")
    assert "mean return 3.000" in context.lines[-1] and "episode length 290.0" in context.lines[-1]
    assert "env-steps/s" in printed[0] and "ETA" in printed[0]
    # the curve for early stopping is not rate-limited: every new point goes out
    assert [(m["type"], m["timestep"], m["mean_return"]) for m in context.custom] == [
        ("metric", 10, -1.0), ("metric", 20, 0.5), ("metric", 30, 1.0), ("metric", 40, 2.0), ("metric", 100, 3.0)]


def test_outside_dagster_the_session_is_a_silent_no_op(monkeypatch):
    from trainer.pipes import pipes_session

    monkeypatch.delenv("DAGSTER_PIPES_CONTEXT", raising=False)
    with pipes_session() as session:
        assert not session.active
        session.log("ignored")
        session.report_materialization({"a": 1})
