"""`train(cfg, run_dir, ...)`: skrl PPO on the task's env, writing the run directory of docs/architecture.md.

The loop is trainer/loop.py; what is written around it hangs on skrl's hooks (trainer/writers.py); the run
directory's checks and first files are trainer/run_dir.py; MLflow set-up is trainer/run_tracking.py. This module
puts them in order.

Resume vs warm-start:
- resume restores policy, value, optimizer, preprocessors, LR scheduler, best-so-far and the step counter from the
  run's latest verified checkpoint and continues to the same target (a SIGKILL loses at most one checkpoint
  interval);
- warm-start loads only the networks and normalizers of some checkpoint and trains afresh from step 0.

Distributed runs (trainer/distributed.py): every rank calls `train`; rank 0 alone writes the run directory, MLflow,
Pipes and the console, and returns the TrainResult (other ranks return None). Every rank resumes from the same
verified checkpoint, read before rank 0 touches the directory.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path
from typing import Any

from trainer import checkpoints, distributed, loop
from trainer.config import TaskConfig
from trainer.files import atomic_write_text
from trainer.pipes import PipesSession
from trainer.preemption import GracefulStop, StopRequested
from trainer.run_dir import (
    AGENT_CONFIG,
    METRICS,
    RESOLVED_CONFIG,
    RESULT,
    check_request,
    start_manifest,
    write_run_config,
)
from trainer.run_tracking import open_tracker, record_run_id
from trainer.storage.run_location import RunLocation
from trainer.train_result import TrainResult
from trainer.writers import (
    CheckpointWriter,
    MetricsWriter,
    last_values,
    truncate_metrics,
)


def _since_process_start() -> float | None:
    try:
        import psutil

        return time.time() - psutil.Process().create_time()
    except Exception:  # noqa: BLE001 - a missing psutil only loses this one log line
        return None


def _restore(agent: Any, resume_from: tuple[Path, dict[str, Any]] | None, warm: tuple[Path, str] | None,
             *, main: bool, location: RunLocation) -> int:
    """Load the resumed checkpoint (returns its step) or the warm-start weights (step 0) into a fresh agent."""
    start = 0
    if resume_from is not None:
        import torch

        own_rng = torch.get_rng_state()
        checkpoints.load_agent(agent, resume_from[0], resume_from[1]["sha256"])  # weights-only
        if not main:  # rank 0's generator state would make every rank draw the same exploration noise
            torch.set_rng_state(own_rng)
        start = agent.checkpoint_modules["training_state"].timestep
        if main:
            truncate_metrics(location.local_dir / METRICS, start)
            print(f"[trainer] resuming {location.uri} from {resume_from[0].name} (step {start})", flush=True)
    elif warm is not None:
        checkpoints.load_weights(agent, *warm)
        if main:
            print(f"[trainer] warm-starting from {warm[0]} (weights only; counters start at 0)", flush=True)
    agent._rollout = start  # PPO updates every `rollouts` steps; checkpoints fall on those boundaries
    return start


def _stop_checkpoint(stop: GracefulStop, agent: Any, timestep: int, manifest: dict[str, Any],
                     location: RunLocation, pipes: PipesSession | None, *, main: bool) -> StopRequested:
    """Rank 0 writes the checkpoint of the update boundary the loop stopped at (unless the interval just wrote it)
    and says so; returns the StopRequested to raise."""
    import signal

    signum = stop.signum if stop.signum is not None else signal.SIGTERM  # another rank was signalled: stop with it
    name = f"{checkpoints.CHECKPOINT_DIR}/agent_{timestep}.pt"
    stopped = StopRequested(signum, checkpoint=location.shown(name))
    if main:
        if manifest["timesteps_done"] != timestep:
            agent.write_checkpoint(timestep=timestep, timesteps=manifest["timesteps_target"])
        line = (f"{stopped.name}: stopped after the PPO update of step {timestep}; checkpoint {stopped.checkpoint} "
                "written (--resume continues from it)")
        print(f"[trainer] {line}", flush=True)
        if pipes is not None:
            pipes.log(line)
    return stopped


def train(
    cfg: TaskConfig,
    run_dir: str | os.PathLike | RunLocation,
    *,
    resume: bool = False,
    warm_start: str | os.PathLike | None = None,
    warm_start_sha256: str | None = None,
    tracking_uri: str | None = None,
    experiment: str | None = None,
    tracking: bool = True,
    asset_root: str | None = None,
    pipes: PipesSession | None = None,
    console: Any = "stdout",
    stop: GracefulStop | None = None,
) -> TrainResult | None:
    """Train `cfg` into `run_dir` (see the module docstring for resume vs warm-start).

    Inside `distributed.process_group()` this is one rank of a distributed run: only rank 0 writes anything and
    returns the TrainResult; the other ranks return None. A `RunLocation` on a store (trainer/storage/run_location.py)
    is trained in its local folder and written through to the store; the caller's `location.finish()` waits for it.

    With `stop` (trainer/preemption.py: the CLI installs it for SIGTERM/SIGINT), a signal during the loop ends it at
    the next update boundary, writes that step's checkpoint and raises StopRequested naming it.
    """
    rank = distributed.current()
    main = rank.is_main
    world = rank.world_size
    total_envs = cfg.num_envs * world
    t_wall = time.monotonic()
    location = run_dir if isinstance(run_dir, RunLocation) else RunLocation.local(run_dir)
    run_dir = location.local_dir
    old_manifest, resume_from, warm = check_request(
        cfg, run_dir, resume=resume, warm_start=warm_start, warm_start_sha256=warm_start_sha256, world_size=world
    )
    if cfg.family == "isaaclab":  # a bad --asset-root is bad input: refuse it before the run dir is written
        from trainer.sim_assets import configure_asset_root

        configure_asset_root(asset_root)
    distributed.barrier()  # every rank has read the run dir before rank 0 rewrites it
    if not main:
        tracking, pipes, console = False, None, None

    resumed = resume_from is not None
    agent_cfg = cfg.agent_cfg()  # resolved once, when the config was validated
    manifest = start_manifest(cfg, old_manifest, resumed=resumed, world_size=world,
                              warm_path=warm[0] if warm else None)
    if main:
        write_run_config(run_dir, cfg, agent_cfg, resumed=resumed)
    tracker = None
    if tracking:
        tracker = open_tracker(cfg, agent_cfg, manifest, run_name=run_dir.name, run_uri=location.uri,
                               resumed=resumed, tracking_uri=tracking_uri, experiment=experiment)
    if main:
        checkpoints.write_manifest(run_dir, manifest)
        location.put(RESOLVED_CONFIG, AGENT_CONFIG, checkpoints.MANIFEST)

    from trainer.agent import build_runner
    from trainer.envs import make_env
    from trainer.kernel_cache import KernelCache, configure
    from trainer.progress import Progress

    device = rank.device(cfg.device)
    # before Warp starts: per-device WARP_CACHE_PATH, restored from TRAINER_KERNEL_CACHE / --kernel-cache; never raises.
    # Ranks share the node's cache folder: rank 0 restores (and later publishes) it before the others point Warp at it.
    kernel_cache = KernelCache.open(device, cfg.name) if cfg.family == "isaaclab" and main else None
    distributed.barrier()
    if cfg.family == "isaaclab" and not main:
        configure(device)
    status = "FAILED"
    metrics_writer = None
    try:
        with make_env(cfg, device=device, asset_root=asset_root) as env:
            runner = build_runner(env, agent_cfg, run_dir if main else None)
            agent = runner.agent
            if cfg.performance.lean:  # before any load, so a resumed optimizer state lands in the fused Adam
                from trainer.lean import make_lean

                make_lean(agent, cfg.num_envs, cuda_graphs=cfg.performance.cuda_graphs)
            start = _restore(agent, resume_from, warm, main=main, location=location)
            state = agent.checkpoint_modules["training_state"]
            progress = Progress(
                total_timesteps=cfg.timesteps,
                start_timestep=start,
                num_envs=total_envs,
                pipes=pipes,
                console=sys.stdout if console == "stdout" else console,
            )
            t_train = time.monotonic()
            since_start = _since_process_start()
            if since_start is not None and main:  # cold vs warm start (Warp kernel cache) shows here
                print(f"[trainer] first training step after {since_start:.1f} s"
                      + (f" ({world} ranks)" if world > 1 else ""), flush=True)
            if main:
                agent.write_checkpoint = CheckpointWriter(agent, location, manifest, tracker)
                metrics_writer = MetricsWriter(agent, total_envs, run_dir / METRICS, tracker, progress, t_train)
                agent.write_tracking_data = metrics_writer
            with stop.deferred() if stop is not None else contextlib.nullcontext():
                if loop.train_loop(runner.trainer, agent, state, start, stop):
                    raise _stop_checkpoint(stop, agent, state.timestep, manifest, location, pipes, main=main)
            if main and manifest["timesteps_done"] != cfg.timesteps:  # the target is not on a checkpoint boundary
                state.timestep = cfg.timesteps
                agent.write_checkpoint(timestep=cfg.timesteps, timesteps=cfg.timesteps)
            train_time = time.monotonic() - t_train
            # the ranks must end with the same networks (same start, same averaged gradients): check it, cheaply
            rank_hashes = distributed.gather_object(
                distributed.parameters_sha256({n: agent.checkpoint_modules[n] for n in ("policy", "value")})
            )
            from trainer.performance import report

            performance = report(cfg, agent, env, str(device))
            if metrics_writer is not None:
                progress.update(cfg.timesteps, metrics_writer.last.get("return"), metrics_writer.last.get("length"),
                                force=True)
        status = "FINISHED"
    except StopRequested:
        status = "KILLED"  # MLflow's word for a run stopped from outside; a resume sets it RUNNING again
        raise
    finally:
        if metrics_writer is not None:
            metrics_writer.close()
        if tracker is not None and status != "FINISHED":
            tracker.close(status=status, timeout=10)

    if not main:
        return None
    if len(set(rank_hashes)) > 1:
        print(f"[trainer] warning: the {world} ranks ended with different parameters {rank_hashes}; "
              "the checkpoints hold rank 0's", flush=True)
    if kernel_cache is not None:
        kernel_cache.publish()  # only when kernels were compiled; a failure is a warning
    if tracker is not None and not manifest.get("mlflow_run_id"):
        # a slow store (first sqlite migration, busy server) may only now have created the run
        record_run_id(manifest, tracker, timeout=60)
        checkpoints.write_manifest(run_dir, manifest)
    for off in performance["off"]:
        print(f"[trainer] warning: performance.{off} was requested but did not run (see the log above)", flush=True)

    result = _result(cfg, location, manifest, start=start, train_time=train_time, resume_from=resume_from,
                     warm=warm, rank_hashes=rank_hashes, performance=performance)
    if tracker is not None:
        tracker.log_metrics(
            {"Stats/train_env_steps_per_s": result.env_steps_per_s, "Stats/train_time_s": result.train_time_s},
            step=cfg.timesteps * total_envs,
        )
        for name in (RESOLVED_CONFIG, AGENT_CONFIG, METRICS):
            tracker.log_artifact(run_dir / name)
    result.wall_time_s = round(time.monotonic() - t_wall, 3)
    atomic_write_text(run_dir / RESULT, result.to_json())
    location.put(METRICS, RESULT, checkpoints.MANIFEST)  # the manifest last, as always
    if tracker is not None:
        tracker.log_artifact(run_dir / RESULT)
        tracker.log_artifact(run_dir / checkpoints.MANIFEST)
        if not tracker.close():
            print("[trainer] warning: MLflow tracking was incomplete (see the warning above)", flush=True)
    return result


def _result(cfg: TaskConfig, location: RunLocation, manifest: dict[str, Any], *, start: int, train_time: float,
            resume_from: tuple[Path, dict[str, Any]] | None, warm: tuple[Path, str] | None,
            rank_hashes: list[str], performance: dict[str, Any]) -> TrainResult:
    """The TrainResult of a finished run (wall_time_s is set by the caller, last)."""
    run_dir = location.local_dir
    world, total_envs = manifest["world_size"], manifest["total_envs"]
    best_path, best_entry = checkpoints.best(run_dir, manifest)
    env_steps = (cfg.timesteps - start) * total_envs
    final = last_values(run_dir / METRICS, ("Reward/Total_reward_mean", "Episode/Total_timesteps_mean"))
    best_key = f"{checkpoints.CHECKPOINT_DIR}/{best_path.name}"
    return TrainResult(
        run_dir=location.uri,
        task=cfg.task,
        num_envs=cfg.num_envs,
        device=cfg.device,
        gpu_count=world if cfg.device.startswith("cuda") else 0,
        seed=cfg.seed,
        timesteps=cfg.timesteps,
        start_timestep=start,
        env_steps=env_steps,
        wall_time_s=0.0,
        train_time_s=round(train_time, 3),
        env_steps_per_s=round(env_steps / train_time, 1) if train_time > 0 else 0.0,
        final_mean_return=final.get("Reward/Total_reward_mean"),
        final_mean_episode_length=final.get("Episode/Total_timesteps_mean"),
        best_checkpoint=location.shown(best_key),
        best_checkpoint_sha256=best_entry["sha256"],
        config_sha256=manifest["config_sha256"],
        resumed_from=location.shown(f"{checkpoints.CHECKPOINT_DIR}/{resume_from[0].name}") if resume_from else None,
        warm_started_from=str(warm[0]) if warm else None,
        mlflow_run_id=manifest.get("mlflow_run_id"),
        mlflow_tracking_uri=manifest.get("mlflow_tracking_uri"),
        checkpoint_uri=location.uri_for(best_key),
        world_size=world,
        total_envs=total_envs,
        rank_parameters_sha256=rank_hashes,
        performance=performance,
    )
