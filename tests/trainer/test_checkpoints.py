"""Run manifest and checkpoint verification (no simulator): atomic writes, sha256, latest/best lookup, refusal."""

from __future__ import annotations

import json

import pytest

from trainer import checkpoints, files
from trainer.checkpoints import CheckpointError


def _run(tmp_path, steps=(64, 128)):
    manifest = {"checkpoints": {}}
    for step in steps:
        path = checkpoints.checkpoint_path(tmp_path, f"agent_{step}.pt")
        files.atomic_write_bytes(path, f"weights at {step}".encode())
        checkpoints.record_checkpoint(tmp_path, manifest, path, step)
    return manifest


def test_manifest_records_every_checkpoint_with_its_sha256(tmp_path):
    manifest = _run(tmp_path)
    on_disk = json.loads((tmp_path / "manifest.json").read_text())
    assert on_disk == manifest
    entry = on_disk["checkpoints"]["agent_128.pt"]
    assert entry["timestep"] == 128 and entry["bytes"] == len(b"weights at 128")
    assert entry["sha256"] == files.sha256_file(tmp_path / "checkpoints" / "agent_128.pt")
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


def test_latest_is_the_newest_listed_checkpoint_and_ignores_unlisted_files(tmp_path):
    _run(tmp_path)
    # a half-written file from a killed run is on disk but not in the manifest
    (tmp_path / "checkpoints" / "agent_192.pt").write_bytes(b"trunc")
    path, entry = checkpoints.latest(tmp_path)
    assert path.name == "agent_128.pt" and entry["timestep"] == 128
    assert checkpoints.latest(tmp_path / "empty") is None


def test_tampered_checkpoint_is_refused(tmp_path):
    _run(tmp_path)
    target = tmp_path / "checkpoints" / "agent_128.pt"
    target.write_bytes(b"weights at 129")
    with pytest.raises(CheckpointError, match=r"agent_128.pt does not match its manifest: sha256 .* refusing"):
        checkpoints.latest(tmp_path)
    with pytest.raises(CheckpointError, match="does not match its manifest"):
        checkpoints.verify(target)


def test_unlisted_or_unmanifested_checkpoints_are_refused(tmp_path):
    _run(tmp_path)
    stray = tmp_path / "checkpoints" / "agent_999.pt"
    stray.write_bytes(b"x")
    with pytest.raises(CheckpointError, match="not listed in the run manifest.*listed: agent_128.pt, agent_64.pt"):
        checkpoints.verify(stray)
    loose = tmp_path / "elsewhere" / "checkpoints" / "a.pt"
    loose.parent.mkdir(parents=True)
    loose.write_bytes(b"x")
    with pytest.raises(CheckpointError, match="has no manifest.json"):
        checkpoints.verify(loose)


def test_best_falls_back_to_latest_when_no_best_was_recorded(tmp_path):
    manifest = _run(tmp_path)
    assert checkpoints.best(tmp_path)[0].name == "agent_128.pt"
    best = checkpoints.checkpoint_path(tmp_path, checkpoints.BEST)
    files.atomic_write_bytes(best, b"best")
    checkpoints.record_checkpoint(tmp_path, manifest, best, 64)
    assert checkpoints.best(tmp_path)[0].name == "best_agent.pt"
    with pytest.raises(CheckpointError, match="has no checkpoints"):
        checkpoints.best(tmp_path / "nothing")


def test_damaged_manifest_is_a_clear_error(tmp_path):
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="manifest is not valid JSON"):
        checkpoints.read_manifest(tmp_path)


def test_atomic_write_leaves_the_old_file_when_interrupted(tmp_path, monkeypatch):
    target = tmp_path / "file.bin"
    files.atomic_write_bytes(target, b"old")

    def boom(*_):
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        files.atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.bin"]
