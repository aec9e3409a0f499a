"""The run directory of a training (docs/architecture.md): what a request may find in it, and what a run writes
there before its first step (resolved config, agent config, the manifest's description of the run).

Checks are read-only, so a launcher of N ranks can call `check_request` before any rank starts.
"""

from __future__ import annotations

import os
import platform
import shutil
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from trainer import checkpoints
from trainer.checkpoints import CheckpointError
from trainer.config import TaskConfig, dump_resolved
from trainer.files import atomic_write_text

PACKAGES = ("isaaclab", "skrl", "torch", "newton", "warp-lang", "mujoco", "mujoco-warp", "gymnasium", "mlflow")
METRICS = "metrics.jsonl"
RESOLVED_CONFIG = "config.resolved.yaml"
AGENT_CONFIG = "agent.yaml"
RESULT = "train_result.json"


class RunDirError(ValueError):
    """The run directory does not fit the request (bad input: e.g. an existing run without --resume)."""


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def env_runtime(cfg: TaskConfig) -> str | None:
    """The Isaac Lab runtime whose observations the policy learns (`performance.env_frontend`; None: gymnasium).

    Recorded in the manifest; resume, evaluation and export refuse a config for the other one (its observations may
    differ: trainer/warp_sensors.py).
    """
    return cfg.performance.env_frontend if cfg.family == "isaaclab" else None


def _existing_manifest(cfg: TaskConfig, run_dir: Path, resume: bool, world_size: int = 1) -> dict[str, Any] | None:
    """Check the run dir against the request; returns the existing manifest when resuming."""
    if run_dir.exists() and not run_dir.is_dir():
        raise RunDirError(f"--run-dir {run_dir} is a file, not a folder; choose a folder (it is created if missing)")
    manifest = checkpoints.read_manifest(run_dir)
    if manifest is None:
        if resume and run_dir.exists() and any(run_dir.iterdir()):
            raise RunDirError(f"{run_dir}: --resume given but the directory holds no manifest.json to resume from")
        return None
    if not resume:
        raise RunDirError(
            f"{run_dir} already holds a training run (manifest.json); pass --resume to continue it or choose a new "
            "--run-dir"
        )
    mismatched = [
        f"{key} (run: {before!r}, now: {now!r})"
        for key, now, before in (
            ("task", cfg.task, manifest.get("task")),
            ("seed", cfg.seed, manifest.get("seed")),
            ("num_envs", cfg.num_envs, manifest.get("num_envs")),
            ("world_size", world_size, manifest.get("world_size", 1)),  # runs from before distributed had one process
            # a policy learns one Isaac Lab runtime's observations (runs from before the record are not checked)
            ("env_runtime", env_runtime(cfg), manifest.get("env_runtime", env_runtime(cfg))),
        )
        if before != now
    ]
    if mismatched:
        raise RunDirError(f"{run_dir}: cannot resume with a different {', '.join(mismatched)}")
    return manifest


def _resolve_warm_start(path: Path, sha256: str | None) -> tuple[Path, str]:
    """(path, sha256) of a warm-start checkpoint, verified: against ``sha256`` when given (the source policy's
    ``checkpoint_sha256``), else against its own run's manifest; a checkpoint neither vouches for is refused."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"warm-start checkpoint {path} does not exist")
    if sha256:
        return path, checkpoints.check_sha256(path, sha256, "--warm-start-sha256")
    if checkpoints.read_manifest(path.parent.parent) is None:
        raise CheckpointError(
            f"warm-start checkpoint {path} cannot be verified: it has no manifest.json in its run directory; pass "
            "--warm-start-sha256 (the source policy's checkpoint_sha256) or a checkpoint of a run directory"
        )
    return path, checkpoints.verify(path)["sha256"]


def check_request(
    cfg: TaskConfig,
    run_dir: str | os.PathLike,
    *,
    resume: bool = False,
    warm_start: str | os.PathLike | None = None,
    warm_start_sha256: str | None = None,
    world_size: int = 1,
) -> tuple[dict[str, Any] | None, tuple[Path, dict[str, Any]] | None, tuple[Path, str] | None]:
    """Read-only checks of a training request: (existing manifest, checkpoint to resume from, warm-start
    (path, sha256)).

    Raises RunDirError / CheckpointError (bad input). Writes nothing, so a launcher of N ranks can call it first.
    """
    if resume and warm_start is not None:
        raise RunDirError("resume and warm-start are exclusive: resume continues this run, warm-start starts anew")
    run_dir = Path(run_dir).resolve()
    old_manifest = _existing_manifest(cfg, run_dir, resume, world_size)
    resume_from = checkpoints.latest(run_dir, old_manifest) if old_manifest else None  # verifies sha256
    if warm_start_sha256 and warm_start is None:
        raise RunDirError("--warm-start-sha256 needs --warm-start (the checkpoint it verifies)")
    warm = _resolve_warm_start(Path(warm_start), warm_start_sha256) if warm_start is not None else None
    return old_manifest, resume_from, warm


def start_manifest(
    cfg: TaskConfig, old_manifest: dict[str, Any] | None, *, resumed: bool, world_size: int,
    warm_path: Path | None,
) -> dict[str, Any]:
    """The manifest a run starts with: the old one when resuming (its checkpoints kept), this run's description."""
    manifest = old_manifest or {"checkpoints": {}}
    if not resumed:  # a fresh (or never-checkpointed) run starts its checkpoint list from scratch
        manifest["checkpoints"] = {}
    manifest.update(
        task=cfg.task,  # "family:id"
        name=cfg.name,
        task_id=cfg.task_id,
        family=cfg.family,
        seed=cfg.seed,
        config_sha256=cfg.config_sha256(),
        packages=package_versions(),
        device=cfg.device,
        gpus=cfg.gpus,
        num_envs=cfg.num_envs,  # per rank
        world_size=world_size,
        total_envs=cfg.num_envs * world_size,
        timesteps_target=cfg.timesteps,
        checkpoint_interval=cfg.checkpoint_interval,
        env_runtime=env_runtime(cfg),
    )
    manifest.setdefault("timesteps_done", 0)
    if warm_path is not None:
        manifest["warm_started_from"] = str(warm_path)
    return manifest


def write_run_config(run_dir: Path, cfg: TaskConfig, agent_cfg: dict[str, Any], *, resumed: bool) -> None:
    """The configs the run trains with; a fresh run also drops an earlier attempt's checkpoints and curve. Any run
    drops the temp files of writes a kill interrupted (this process is now the run's only writer)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / RESOLVED_CONFIG, dump_resolved(cfg))
    atomic_write_text(run_dir / AGENT_CONFIG, yaml.safe_dump(agent_cfg, sort_keys=False))
    if not resumed:
        shutil.rmtree(run_dir / checkpoints.CHECKPOINT_DIR, ignore_errors=True)
        (run_dir / METRICS).unlink(missing_ok=True)
    # a SIGKILL mid-write leaves the hidden temp file of trainer/files.py (never a listed checkpoint): drop it
    for folder in (run_dir, run_dir / checkpoints.CHECKPOINT_DIR):
        for tmp in folder.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)
