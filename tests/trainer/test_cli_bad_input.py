"""Bad input to `python -m trainer train/evaluate/export`: exit 2 with one clear line, before anything is written,
and no credential from a URI ever echoed (docs/architecture.md, "Trainer CLI contract")."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from trainer.cli import EXIT_BAD_INPUT, main

ROOT = Path(__file__).resolve().parents[2]
CARTPOLE = ROOT / "task_configs" / "cartpole.yaml"
PENDULUM = ROOT / "task_configs" / "inverted_pendulum.yaml"
SAS = "sv=2024-01-01&sig=TOPSECRETSIG"


def _fails_with(capsys, argv: list[str], *expected: str) -> str:
    assert main(argv) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err, err
    for text in expected:
        assert text in err, err
    return err


@pytest.fixture
def no_azure_credentials(monkeypatch):
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    monkeypatch.delenv("ROBOTICS_AZURE_AUTH", raising=False)


@pytest.mark.parametrize(
    ("uri", "expected", "secret"),
    [
        (f"https://acct.blob.core.windows.net/checkpoints/run?{SAS}", "remove its credentials", "TOPSECRETSIG"),
        ("ftp://user:hunter2@host/runs", "unsupported scheme 'ftp'", "hunter2"),
        ("https://acct.blob.core.windows.net/checkpoints/run", "no Azure credentials configured", None),
    ],
)
def test_train_refuses_a_bad_run_dir_uri_before_training(capsys, tmp_path, monkeypatch, no_azure_credentials, uri,
                                                         expected, secret):
    monkeypatch.chdir(tmp_path)  # a URL taken for a folder name would appear here (it once did: `https:/acct...`)
    err = _fails_with(capsys, ["train", "--config", str(CARTPOLE), "--run-dir", uri, "--no-tracking"], expected)
    assert secret is None or secret not in err
    assert list(tmp_path.iterdir()) == []


def test_train_refuses_a_file_as_run_dir_and_a_missing_asset_root_without_writing(capsys, tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("not a run")
    _fails_with(capsys, ["train", "--config", str(CARTPOLE), "--run-dir", str(afile), "--no-tracking"],
                f"--run-dir {afile} is a file, not a folder")
    run_dir = tmp_path / "run"
    _fails_with(capsys, ["train", "--config", str(CARTPOLE), "--run-dir", str(run_dir), "--no-tracking",
                         "--asset-root", str(tmp_path / "missing")], "is not a folder (allowed: local, default")
    assert not run_dir.exists()  # a retry without --resume must not find a half-started run


def _fake_run(tmp_path: Path, task: str, env_runtime: str | None = None, name: str = "run") -> Path:
    """A run directory whose manifest lists one checkpoint (never unpickled: the checks run before torch.load)."""
    run_dir = tmp_path / name
    (run_dir / "checkpoints").mkdir(parents=True)
    data = b"not a real checkpoint"
    (run_dir / "checkpoints" / "best_agent.pt").write_bytes(data)
    manifest = {"task": task, "checkpoints": {"best_agent.pt": {"sha256": hashlib.sha256(data).hexdigest(),
                                                               "timestep": 32, "bytes": len(data)}}}
    if env_runtime is not None:
        manifest["env_runtime"] = env_runtime
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    return run_dir


@pytest.mark.parametrize("command", ["evaluate", "export"])
def test_evaluate_and_export_refuse_bad_input_before_any_work(capsys, tmp_path, no_azure_credentials, command):
    run_dir = _fake_run(tmp_path, "isaaclab:Isaac-Cartpole-Direct")
    out = tmp_path / "out"
    args = [command, "--config", str(CARTPOLE), "--out", str(out)]
    err = _fails_with(capsys, [*args, "--run-dir", f"https://acct.blob.core.windows.net/checkpoints/run?{SAS}"],
                      "artifact URI 'https://acct.blob.core.windows.net/checkpoints/run", "remove its credentials")
    assert "TOPSECRETSIG" not in err
    _fails_with(capsys, [*args, "--run-dir", "https://acct.blob.core.windows.net/checkpoints/run"],
                "no Azure credentials configured")
    _fails_with(capsys, [*args, "--run-dir", "s3://bucket/run"], "unsupported scheme 's3'")
    afile = tmp_path / "afile"
    afile.write_text("x")
    _fails_with(capsys, [command, "--config", str(CARTPOLE), "--run-dir", str(run_dir), "--out", str(afile)],
                f"--out {afile} is a file, not a folder")
    # a config for another task would label the numbers / the ONNX model with the wrong task
    _fails_with(capsys, [command, "--config", str(PENDULUM), "--run-dir", str(run_dir), "--out", str(out)],
                "task: 'gymnasium:InvertedPendulum-v5', but the run", "trained 'isaaclab:Isaac-Cartpole-Direct'")
    # a policy is judged / exported for the Isaac Lab runtime it learned in (cartpole.yaml: the torch runtime)
    warp_run = _fake_run(tmp_path, "isaaclab:Isaac-Cartpole-Direct", env_runtime="warp", name="warp_run")
    _fails_with(capsys, [command, "--config", str(CARTPOLE), "--run-dir", str(warp_run), "--out", str(out)],
                "performance.env_frontend: 'torch', but the run", "trained in Isaac Lab's 'warp' runtime",
                "set performance.env_frontend: warp")
    assert not out.exists() or not any(out.iterdir())
