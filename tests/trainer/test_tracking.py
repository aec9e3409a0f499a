"""MLflow tracking: skrl aggregation and names, a real sqlite store, and an outage that must not stop training."""

from __future__ import annotations

import re
import socket
import time
import warnings

from trainer.tracking import Tracker, aggregate, metric_name


def test_names_are_sanitized_for_mlflow():
    assert metric_name("Reward / Total reward (mean)") == "Reward/Total_reward_mean"
    assert metric_name("Episode / Total timesteps (max)") == "Episode/Total_timesteps_max"
    assert metric_name("Info / Episode_Reward/alive") == "Info/Episode_Reward/alive"
    assert metric_name("Stats / Inference time (ms)") == "Stats/Inference_time_ms"


def test_aggregation_follows_skrl_suffixes():
    data = {"A (min)": [3.0, 1.0, 2.0], "A (max)": [3.0, 1.0, 2.0], "A (mean)": [3.0, 1.0, 2.0], "Loss": [1, 3],
            "empty": []}
    assert aggregate(data) == {"A (min)": 1.0, "A (max)": 3.0, "A (mean)": 2.0, "Loss": 2.0}


def test_metrics_params_tags_and_artifacts_reach_a_sqlite_store(tmp_path):
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = Tracker(tracking_uri=uri, experiment="t", run_name="r1", system_metrics=False)
    tracker.log_params({"agent.rollouts": 32})
    tracker.set_tags({"task": "isaaclab:Isaac-Cartpole-Direct"})
    for step in (1, 2, 3):
        tracker.log_metrics({"Reward / Total reward (mean)": step * 1.5, "nan": float("nan")}, step=step * 512)
    artifact = tmp_path / "manifest.json"
    artifact.write_text("{}")
    tracker.log_artifact(artifact)
    assert tracker.close() is True
    client = MlflowClient(uri)
    run = client.get_run(tracker.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params == {"agent.rollouts": "32"}
    assert run.data.tags["task"] == "isaaclab:Isaac-Cartpole-Direct"
    history = client.get_metric_history(tracker.run_id, "Reward/Total_reward_mean")
    assert sorted((m.step, m.value) for m in history) == [(512, 1.5), (1024, 3.0), (1536, 4.5)]
    assert "nan" not in run.data.metrics
    assert [a.path for a in client.list_artifacts(tracker.run_id)] == ["manifest.json"]
    # artifacts land next to the database, not in the cwd's ./mlruns
    assert (tmp_path / "artifacts").is_dir()


def test_outage_becomes_a_warning_and_never_blocks_the_caller(tmp_path):
    with socket.socket() as s:  # a port with nothing listening: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # the warning is raised on the tracker's worker thread: record everything while it runs
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        tracker = Tracker(tracking_uri=f"http://user:secret@127.0.0.1:{port}", experiment="t", run_name="r",
                          system_metrics=False)
        t0 = time.monotonic()
        for step in range(200):
            tracker.log_metrics({"loss": 1.0}, step=step)
        enqueue_s = time.monotonic() - t0
        ready = tracker.wait_ready(timeout=120)
        closed = tracker.close(timeout=60)
    assert enqueue_s < 0.5  # logging is only an enqueue
    assert ready is None and closed is False
    messages = [str(w.message) for w in record if issubclass(w.category, RuntimeWarning)]
    assert any(re.search(r"MLflow tracking to http://\*\*\*@127.0.0.1:\d+ failed", m) for m in messages), messages
    assert all("secret" not in m for m in messages)
