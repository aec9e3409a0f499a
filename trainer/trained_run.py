"""A trained run as evaluation and export read it: its inputs fetched from a store, its checkpoint verified, its
agent rebuilt with that checkpoint loaded (`restore_policy`), and the checks both commands apply first.

Both commands take the same `--run-dir`/`--checkpoint`/`--out` arguments and refuse the same bad input, so this is
shared by trainer/evaluate.py and trainer/export.py, neither of which imports the other.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trainer.config import TaskConfig


class OutputDirError(ValueError):
    """`--out` cannot be the output folder (bad input)."""


def check_out_dir(out: Path) -> None:
    """Refuse an `--out` that is an existing file before any work, not when the results are ready to be written."""
    if out.exists() and not out.is_dir():
        raise OutputDirError(f"--out {out} is a file, not a folder; choose a folder (it is created if missing)")


@dataclass
class RestoredPolicy:
    """A skrl agent with a verified checkpoint loaded, in eval mode (deterministic path: mean_actions)."""

    agent: Any
    checkpoint: Path
    checkpoint_sha256: str
    observation_dim: int
    action_dim: int


def agent_cfg_for_run(cfg: TaskConfig, run_dir: Path) -> dict[str, Any]:
    """The agent config the run trained with (its agent.yaml), else the one the task config resolves to today."""
    from trainer.agent_config import load_run_agent_cfg

    saved = run_dir / "agent.yaml"
    return load_run_agent_cfg(saved) if saved.is_file() else cfg.agent_cfg()


def verified_checkpoint(
    run_dir: Path, checkpoint: Path | None, expected_sha256: str | None = None
) -> tuple[Path, str]:
    """(path, sha256) of the checkpoint to use (default: the run's best), verified against the run manifest and,
    when given, against `expected_sha256` (the orchestrator's record: the manifest lives in the same writable store).

    Runs before anything unpickles the file; a mismatch raises trainer.checkpoints.CheckpointError.
    """
    from trainer import checkpoints

    if checkpoint is None:
        path, entry = checkpoints.best(run_dir)
    else:
        path = Path(checkpoint)
        if not path.exists() and not path.is_absolute():  # a bare name such as agent_1600.pt
            path = checkpoints.checkpoint_path(run_dir, str(checkpoint))
        entry = checkpoints.verify(path, checkpoints.read_manifest(run_dir))
    if expected_sha256 is not None:
        checkpoints.check_sha256(path, expected_sha256, "--checkpoint-sha256 (the policy's recorded checkpoint_sha256)")
    return path, entry["sha256"]


def check_config_matches_run(cfg: TaskConfig, run_dir: Path) -> None:
    """Refuse a task config for another task than the run trained (its numbers or model would carry the wrong task),
    or for another Isaac Lab runtime than it trained in.

    The two runtimes of one task id are separate implementations of its MDP: a policy is judged in the one whose
    observations it learned. (They differed: isaaclab 3.0.0's Warp runtime never updated its sensors, and Ant
    policies trained there scored 1.3 instead of 60 in the torch runtime; trainer/warp_sensors.py.) Runs whose
    manifest predates the `env_runtime` record are not checked.
    """
    from trainer.checkpoints import read_manifest
    from trainer.config import ConfigError
    from trainer.run_dir import env_runtime

    manifest = read_manifest(run_dir) or {}
    trained = manifest.get("task")
    if trained is not None and trained != cfg.task:
        raise ConfigError(
            f"{cfg.source or '--config'}: task: {cfg.task!r}, but the run {run_dir} trained {trained!r}; pass the "
            f"task config the run was trained with (its config.resolved.yaml)"
        )
    runtime = manifest.get("env_runtime")
    if runtime is not None and runtime != env_runtime(cfg):
        raise ConfigError(
            f"{cfg.source or '--config'}: performance.env_frontend: {cfg.performance.env_frontend!r}, but the run "
            f"{run_dir} trained in Isaac Lab's {runtime!r} runtime; set performance.env_frontend: {runtime} (or pass "
            f"the run's config.resolved.yaml): a policy is evaluated and exported for the runtime it learned in"
        )


def localize_inputs(
    run_dir: str, checkpoint: str | None, stack: contextlib.ExitStack
) -> tuple[Path, Path | None]:
    """Local paths for `--run-dir`/`--checkpoint`, downloading (sha256-verified) what lives in a store.

    A remote backend trains into the artifact store, so evaluation and export get the run's Blob URL: its manifest,
    agent config, curve and the one checkpoint needed are fetched into a scratch folder that `stack` removes. Both
    arrive as strings because `Path()` would collapse the `//` of a URL.
    """
    from trainer.storage.run_location import local_folder, open_run_location

    folder = local_folder(run_dir)
    remote_checkpoint = checkpoint is not None and local_folder(checkpoint) is None
    if folder is None:
        location = stack.enter_context(open_run_location(run_dir))
        if not remote_checkpoint:
            return location.local_dir, location.restore_for_reading(checkpoint)
        location.restore_for_reading(None, with_checkpoint=False)  # the checkpoint comes from its own URI
        folder = location.local_dir
    if checkpoint is None:
        return folder, None
    if not remote_checkpoint:
        return folder, local_folder(checkpoint)
    from trainer.storage import fetch

    return folder, fetch(checkpoint, folder / "checkpoints")


def restore_policy(
    env: Any, cfg: TaskConfig, run_dir: Path, checkpoint: Path, sha256: str, *, seed: int | None = None
) -> RestoredPolicy:
    """Build the agent on `env`, load an already verified checkpoint and switch to eval mode.

    skrl's Runner re-seeds torch with the agent config's seed; `seed` replaces it so that the evaluation seed, not
    the training seed, drives whatever the environment samples from torch afterwards (Isaac Lab's resets).
    """
    from trainer import checkpoints
    from trainer.agent import build_runner

    agent_cfg = agent_cfg_for_run(cfg, run_dir)
    if seed is not None:
        agent_cfg["seed"] = seed
    with tempfile.TemporaryDirectory(prefix="trainer-restore-") as scratch:
        runner = build_runner(env, agent_cfg, scratch, training=False)
    agent = runner.agent
    checkpoints.load_agent(agent, checkpoint, sha256)  # weights-only, on the bytes whose sha256 was verified
    agent.enable_training_mode(False, apply_to_models=True)
    return RestoredPolicy(
        agent=agent,
        checkpoint=checkpoint,
        checkpoint_sha256=sha256,
        observation_dim=int(env.observation_space.shape[0]),
        action_dim=int(env.action_space.shape[0]),
    )


def positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def bad_input_errors() -> tuple[type[BaseException], ...]:
    """What `evaluate` and `export` refuse with exit code 2: trainer/bad_input.py's list, a missing stored object and
    an unusable `--out`."""
    from trainer import bad_input
    from trainer.storage import ObjectNotFound

    return bad_input.bad_input_errors(ObjectNotFound, OutputDirError)
