"""Real Cartpole training runs for tests (CPU), shared by the trainer, evaluate and export tests.

`trained_cartpole` trains `task_configs/cartpole.yaml` once per session, through the CLI exactly as a launcher
runs it, with MLflow tracking into a temporary sqlite store. Use it from another test folder with
`from tests.trainer.cartpole_run import trained_cartpole  # noqa: F401` in that folder's conftest.py.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CARTPOLE_CONFIG = ROOT / "task_configs" / "cartpole.yaml"


@dataclasses.dataclass(frozen=True)
class TrainedRun:
    config_path: Path
    run_dir: Path
    tracking_uri: str
    result: dict[str, Any]
    manifest: dict[str, Any]
    log: str

    def metrics(self) -> list[dict[str, Any]]:
        return read_metrics(self.run_dir)


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines() if line.strip()]


def trainer_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **extra}
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def run_trainer(*args: str | os.PathLike, timeout: float = 1800, check: bool = True, **kwargs: Any):
    proc = subprocess.run(
        [sys.executable, "-m", "trainer", *map(str, args)],
        check=False,
        cwd=ROOT,
        env=trainer_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"trainer {args[:1]} exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def small_cartpole_config(path: Path, **changes: Any) -> Path:
    """A short Cartpole config (64 envs, 256 steps, checkpoint every 64) for resume/warm-start/seed tests."""
    data = yaml.safe_load(CARTPOLE_CONFIG.read_text())
    data.update({"num_envs": 64, "timesteps": 256, "checkpoint_interval": 64, **changes})
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def trained_cartpole(tmp_path_factory: pytest.TempPathFactory) -> TrainedRun:
    base = tmp_path_factory.mktemp("trained_cartpole")
    run_dir = base / "run"
    tracking_uri = f"sqlite:///{base / 'mlflow' / 'mlflow.db'}"
    proc = run_trainer(
        "train", "--config", CARTPOLE_CONFIG, "--run-dir", run_dir, "--tracking-uri", tracking_uri,
        "--experiment", "tests-cartpole",
    )
    return TrainedRun(
        config_path=CARTPOLE_CONFIG,
        run_dir=run_dir,
        tracking_uri=tracking_uri,
        result=json.loads((run_dir / "train_result.json").read_text()),
        manifest=json.loads((run_dir / "manifest.json").read_text()),
        log=proc.stdout + proc.stderr,
    )

