"""`train(cfg, run_dir, ...)`: skrl PPO on the task's env, writing the run directory of docs/architecture.md.

Resume vs warm-start:
- resume restores policy, value, optimizer, preprocessors, LR scheduler, best-so-far and the step counter from the
  run's latest verified checkpoint and continues to the same target (a SIGKILL loses at most one checkpoint
  interval);
- warm-start loads only the networks and normalizers of some checkpoint and trains afresh from step 0.

skrl 2.1's `SequentialTrainer.train()` always loops `range(cfg.timesteps)` and has no way to start at a later
timestep, so `_train_loop` is its single-agent loop with a start offset (same calls, same order).

Distributed runs (trainer/distributed.py): every rank calls `train`; rank 0 alone writes the run directory, MLflow,
Pipes and the console, and returns the TrainResult (other ranks return None). Every rank resumes from the same
verified checkpoint, read before rank 0 touches the directory.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
import shutil
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from trainer import checkpoints, distributed
from trainer.checkpoints import CheckpointError
from trainer.config import TaskConfig, dump_resolved
from trainer.pipes import PipesSession
from trainer.storage.run_location import RunLocation
from trainer.storage.uris import redact_uri

PACKAGES = ("isaaclab", "skrl", "torch", "newton", "warp-lang", "mujoco", "mujoco-warp", "gymnasium", "mlflow")
RETURN_TAG = "Reward / Total reward (mean)"
LENGTH_TAG = "Episode / Total timesteps (mean)"
WEIGHT_MODULES = ("policy", "value", "observation_preprocessor", "state_preprocessor", "value_preprocessor")


class RunDirError(ValueError):
    """The run directory does not fit the request (bad input: e.g. an existing run without --resume)."""


@dataclasses.dataclass
class TrainResult:
    run_dir: str
    task: str
    num_envs: int  # per rank
    device: str
    gpu_count: int
    seed: int
    timesteps: int
    start_timestep: int
    env_steps: int
    wall_time_s: float
    train_time_s: float
    env_steps_per_s: float
    final_mean_return: float | None
    final_mean_episode_length: float | None
    best_checkpoint: str
    best_checkpoint_sha256: str
    config_sha256: str
    resumed_from: str | None = None
    warm_started_from: str | None = None
    mlflow_run_id: str | None = None
    mlflow_tracking_uri: str | None = None
    checkpoint_uri: str | None = None
    world_size: int = 1  # processes (ranks) that trained together
    total_envs: int = 0  # num_envs * world_size; env_steps counts them all
    rank_parameters_sha256: list[str] | None = None  # per rank, after training: equal when the ranks stayed in sync
    # the `performance:` switches requested here, observed active on rank 0, and requested but off
    # (trainer/performance.py)
    performance: dict[str, Any] | None = None

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2) + "\n"


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def _prepare_run_dir(cfg: TaskConfig, run_dir: Path, resume: bool, world_size: int = 1) -> dict[str, Any] | None:
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
        )
        if before != now
    ]
    if mismatched:
        raise RunDirError(f"{run_dir}: cannot resume with a different {', '.join(mismatched)}")
    return manifest


def _truncate_metrics(path: Path, upto_timestep: int) -> None:
    """Drop metrics written after the checkpoint we resume from, so the curve has no duplicate or orphan points."""
    if not path.is_file():
        return
    kept = [
        line
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and json.loads(line)["timestep"] <= upto_timestep
    ]
    checkpoints.atomic_write_text(path, "".join(f"{line}\n" for line in kept))


def _last_values(path: Path, names: tuple[str, ...]) -> dict[str, float]:
    """Latest logged value of each metric (a resumed run's curve spans both processes)."""
    found: dict[str, float] = {}
    if path.is_file():
        for line in reversed(path.read_text(encoding="utf-8").splitlines()):
            record = json.loads(line) if line.strip() else {}
            for name in names:
                if name not in found and record.get(name) is not None:
                    found[name] = record[name]
            if len(found) == len(names):
                break
    return found


def _load_weights_only(agent: Any, path: Path, sha256: str) -> None:
    state = checkpoints.load(path, sha256, map_location=agent.device)
    if "policy" not in state:
        raise CheckpointError(f"{path} is not a skrl agent checkpoint (no 'policy' entry)")
    for name in WEIGHT_MODULES:
        module = agent.checkpoint_modules.get(name)
        if module is not None and name in state:
            module.load_state_dict(state[name])


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
    old_manifest = _prepare_run_dir(cfg, run_dir, resume, world_size)
    resume_from = checkpoints.latest(run_dir, old_manifest) if old_manifest else None  # verifies sha256
    if warm_start_sha256 and warm_start is None:
        raise RunDirError("--warm-start-sha256 needs --warm-start (the checkpoint it verifies)")
    warm = _resolve_warm_start(Path(warm_start), warm_start_sha256) if warm_start is not None else None
    return old_manifest, resume_from, warm


class _CheckpointWriter:
    """Replaces skrl's `write_checkpoint`: same files, but atomic and recorded in the manifest with sha256.

    Each checkpoint goes to the run's store before the manifest that lists it (`RunLocation.put` keeps the order).
    """

    def __init__(self, agent: Any, location: RunLocation, manifest: dict[str, Any], tracker: Any | None) -> None:
        self.agent, self.location, self.manifest, self.tracker = agent, location, manifest, tracker
        self.run_dir = location.local_dir

    def _modules(self, source: dict[str, Any]) -> dict[str, Any]:
        return {name: self.agent._get_internal_value(module) for name, module in source.items()}

    def __call__(self, *, timestep: int, timesteps: int) -> None:
        agent = self.agent
        path = checkpoints.checkpoint_path(self.run_dir, f"agent_{timestep}.pt")
        checkpoints.atomic_torch_save(self._modules(agent.checkpoint_modules), path)
        written = [f"{checkpoints.CHECKPOINT_DIR}/{path.name}"]
        best = agent.checkpoint_best_modules
        if best["modules"] and not best["saved"]:
            # skrl deep-copied every module (training_state included) when this became the best
            best_modules = {n: best["modules"][n] for n in agent.checkpoint_modules if n in best["modules"]}
            best_path = checkpoints.checkpoint_path(self.run_dir, checkpoints.BEST)
            checkpoints.atomic_torch_save(best_modules, best_path)
            best["saved"] = True
            checkpoints.record_checkpoint(self.run_dir, self.manifest, best_path, best["timestep"])
            written.append(f"{checkpoints.CHECKPOINT_DIR}/{checkpoints.BEST}")
            if self.tracker is not None:
                self.tracker.log_artifact(best_path, "checkpoints")
        self.manifest["timesteps_done"] = int(timestep)
        # the MLflow run was not ready when training started (a slow store): record it with the first checkpoint
        # written after it exists, so a resume after a kill continues that run instead of opening a second one
        if (self.tracker is not None and not self.manifest.get("mlflow_run_id")
                and (run_id := self.tracker.wait_ready(timeout=0))):
            self.manifest["mlflow_run_id"] = run_id
            self.manifest["mlflow_tracking_uri"] = redact_uri(self.tracker.tracking_uri)
        checkpoints.record_checkpoint(self.run_dir, self.manifest, path, timestep)
        self.location.put(*written, "metrics.jsonl", checkpoints.MANIFEST)
        if self.tracker is not None:
            self.tracker.log_artifact(path, "checkpoints")
            self.tracker.log_artifact(self.run_dir / checkpoints.MANIFEST)


class _MetricsWriter:
    """Wraps skrl's `write_tracking_data` (its hook point in 2.x): metrics.jsonl, MLflow and progress, then skrl's."""

    def __init__(self, agent: Any, num_envs: int, path: Path, tracker: Any | None, progress: Any, t0: float) -> None:
        self.agent, self.num_envs, self.path, self.tracker, self.progress, self.t0 = (
            agent, num_envs, path, tracker, progress, t0,
        )
        self.original = agent.write_tracking_data
        self.last: dict[str, float] = {}
        self.fh = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed by close()

    def __call__(self, *, timestep: int, timesteps: int) -> None:
        from trainer.tracking import aggregate, metric_name

        values = aggregate(self.agent.tracking_data)
        if RETURN_TAG in values:
            self.last["return"] = values[RETURN_TAG]
        if LENGTH_TAG in values:
            self.last["length"] = values[LENGTH_TAG]
        env_steps = int(timestep) * self.num_envs
        rate = self.progress.env_steps_per_s(timestep)
        named = {metric_name(k): v for k, v in values.items()}
        named["Stats/env_steps_per_s"] = rate
        record = {"timestep": int(timestep), "env_steps": env_steps, "wall_s": round(time.monotonic() - self.t0, 3)}
        record.update({k: (v if math.isfinite(v) else None) for k, v in named.items()})
        self.fh.write(json.dumps(record) + "\n")
        self.fh.flush()
        if self.tracker is not None:
            self.tracker.log_metrics(named, step=env_steps)
        self.progress.update(timestep, self.last.get("return"), self.last.get("length"))
        self.original(timestep=timestep, timesteps=timesteps)  # TensorBoard + clears skrl's buffers

    def close(self) -> None:
        self.fh.close()


def _writes_next(agent: Any, timestep: int) -> bool:
    """Whether skrl's post_interaction for `timestep` writes tracking data (or a checkpoint, which reads it)."""
    step = timestep + 1
    return step > 1 and any(
        interval > 0 and not step % interval for interval in (agent.write_interval, agent.checkpoint_interval)
    )


def _since_process_start() -> float | None:
    try:
        import psutil

        return time.time() - psutil.Process().create_time()
    except Exception:  # noqa: BLE001 - a missing psutil only loses this one log line
        return None


def _train_loop(trainer: Any, agent: Any, state: Any, start: int) -> None:
    """skrl 2.1 `Trainer.train()` (single agent) starting at `start` instead of 0."""
    import torch
    from skrl.utils import ScopedTimer

    env, timesteps, env_info = trainer.env, trainer.cfg.timesteps, trainer.cfg.environment_info
    lean = hasattr(agent, "_episode_stats")  # trainer/lean.py: no per-step `.item()` either
    # non-zero ranks of a distributed run log nothing (skrl zeroes their intervals): collect no env info there
    logs_info = agent.write_interval > 0 or agent.checkpoint_interval > 0
    pending_info: dict[str, list] = {}
    agent.enable_training_mode(True)
    observations, infos = env.reset()
    states = env.state()
    for timestep in range(start, timesteps):
        agent.pre_interaction(timestep=timestep, timesteps=timesteps)
        with torch.no_grad():
            with ScopedTimer() as timer:
                actions, _ = agent.act(observations, states, timestep=timestep, timesteps=timesteps)
                agent.track_data("Stats / Inference time (ms)", timer.elapsed_time_ms)
            with ScopedTimer() as timer:
                next_observations, rewards, terminated, truncated, infos = env.step(actions)
                next_states = env.state()
                agent.track_data("Stats / Env stepping time (ms)", timer.elapsed_time_ms)
            agent.record_transition(
                observations=observations,
                states=states,
                actions=actions,
                rewards=rewards,
                next_observations=next_observations,
                next_states=next_states,
                terminated=terminated,
                truncated=truncated,
                infos=infos,
                timestep=timestep,
                timesteps=timesteps,
            )
            if logs_info and env_info in infos:
                for k, v in infos[env_info].items():
                    if isinstance(v, torch.Tensor) and v.numel() == 1:
                        if lean:  # keep it on the device; summarised once per write interval
                            pending_info.setdefault(k if "/" in k else f"Info / {k}", []).append(v.detach())
                        else:
                            agent.track_data(k if "/" in k else f"Info / {k}", v.item())
            if pending_info and _writes_next(agent, timestep):
                for key, values in pending_info.items():
                    agent.track_data(key, torch.stack(values).float().mean().item())
                pending_info.clear()
        state.timestep = timestep + 1  # what a checkpoint written in post_interaction resumes from
        agent.post_interaction(timestep=timestep, timesteps=timesteps)
        observations, states = next_observations, next_states


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
) -> TrainResult | None:
    """Train `cfg` into `run_dir` (see the module docstring for resume vs warm-start).

    Inside `distributed.process_group()` this is one rank of a distributed run: only rank 0 writes anything and
    returns the TrainResult; the other ranks return None. A `RunLocation` on a store (trainer/storage/run_location.py)
    is trained in its local folder and written through to the store; the caller's `location.finish()` waits for it.
    """
    import sys

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
    warm_path = warm[0] if warm else None
    if cfg.family == "isaaclab":  # a bad --asset-root is bad input: refuse it before the run dir is written
        from trainer.sim_assets import configure_asset_root

        configure_asset_root(asset_root)
    distributed.barrier()  # every rank has read the run dir before rank 0 rewrites it
    if not main:
        tracking, pipes, console = False, None, None

    from trainer.agent import resolve_agent_cfg

    agent_cfg = resolve_agent_cfg(cfg)
    config_sha = cfg.config_sha256()
    manifest = old_manifest or {"checkpoints": {}}
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
        checkpoints.atomic_write_text(run_dir / "config.resolved.yaml", dump_resolved(cfg))
        checkpoints.atomic_write_text(run_dir / "agent.yaml", yaml.safe_dump(agent_cfg, sort_keys=False))
        if not resume_from:  # a fresh (or never-checkpointed) run: start the manifest and the curve from scratch
            manifest["checkpoints"] = {}
            shutil.rmtree(run_dir / checkpoints.CHECKPOINT_DIR, ignore_errors=True)
            (run_dir / "metrics.jsonl").unlink(missing_ok=True)
    manifest.update(
        task=cfg.task,  # "family:id"
        name=cfg.name,
        task_id=cfg.task_id,
        family=cfg.family,
        seed=cfg.seed,
        config_sha256=config_sha,
        packages=package_versions(),
        device=cfg.device,
        gpus=cfg.gpus,
        num_envs=cfg.num_envs,  # per rank
        world_size=world,
        total_envs=total_envs,
        timesteps_target=cfg.timesteps,
        checkpoint_interval=cfg.checkpoint_interval,
    )
    manifest.setdefault("timesteps_done", 0)
    if warm_path is not None:
        manifest["warm_started_from"] = str(warm_path)

    tracker = None
    if tracking:
        from trainer.tracking import Tracker, flatten_params

        tracker = Tracker(
            tracking_uri=tracking_uri,
            experiment=experiment or cfg.name,
            run_name=run_dir.name,
            run_id=manifest.get("mlflow_run_id") if resume_from else None,
        )
        if not resume_from:
            tracker.log_params(
                {
                    **flatten_params(cfg.model_dump(mode="json", exclude={"agent"}), "task."),
                    **flatten_params(agent_cfg, "agent."),
                    "distributed.world_size": world,
                    "distributed.num_envs_per_rank": cfg.num_envs,
                    "distributed.total_envs": total_envs,
                }
            )
        tracker.set_tags(
            {
                "task": cfg.task,
                "task_name": cfg.name,
                "config_sha256": config_sha,
                "device": cfg.device,
                "num_envs": cfg.num_envs,
                "world_size": world,
                "run_dir": location.uri,
                "resumed": bool(resume_from),
                **{f"version.{k}": v for k, v in manifest["packages"].items()},
            }
        )
        manifest["mlflow_run_id"] = tracker.wait_ready(timeout=10)  # never hold training back for long
        # the manifest, train_result.json and Pipes metadata are read by many: never a user:password in them
        manifest["mlflow_tracking_uri"] = redact_uri(tracker.tracking_uri) if manifest["mlflow_run_id"] else None
    if main:
        checkpoints.write_manifest(run_dir, manifest)
        location.put("config.resolved.yaml", "agent.yaml", checkpoints.MANIFEST)

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
            state = agent.checkpoint_modules["training_state"]
            start = 0
            if resume_from is not None:
                import torch

                own_rng = torch.get_rng_state()
                checkpoints.load_agent(agent, resume_from[0], resume_from[1]["sha256"])  # weights-only
                if not main:  # rank 0's generator state would make every rank draw the same exploration noise
                    torch.set_rng_state(own_rng)
                start = state.timestep
                if main:
                    _truncate_metrics(run_dir / "metrics.jsonl", start)
                    print(f"[trainer] resuming {location.uri} from {resume_from[0].name} (step {start})", flush=True)
            elif warm_path is not None:
                _load_weights_only(agent, *warm)
                if main:
                    print(f"[trainer] warm-starting from {warm_path} (weights only; counters start at 0)", flush=True)
            agent._rollout = start  # PPO updates every `rollouts` steps; checkpoints fall on those boundaries
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
                agent.write_checkpoint = _CheckpointWriter(agent, location, manifest, tracker)
                metrics_writer = _MetricsWriter(agent, total_envs, run_dir / "metrics.jsonl", tracker, progress,
                                                t_train)
                agent.write_tracking_data = metrics_writer
            _train_loop(runner.trainer, agent, state, start)
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
        manifest["mlflow_run_id"] = tracker.wait_ready(timeout=60)
        manifest["mlflow_tracking_uri"] = redact_uri(tracker.tracking_uri) if manifest["mlflow_run_id"] else None
        checkpoints.write_manifest(run_dir, manifest)
    for off in performance["off"]:
        print(f"[trainer] warning: performance.{off} was requested but did not run (see the log above)", flush=True)
    best_path, best_entry = checkpoints.best(run_dir, manifest)
    env_steps = (cfg.timesteps - start) * total_envs
    final = _last_values(run_dir / "metrics.jsonl", ("Reward/Total_reward_mean", "Episode/Total_timesteps_mean"))
    best_key = f"{checkpoints.CHECKPOINT_DIR}/{best_path.name}"
    result = TrainResult(
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
        config_sha256=config_sha,
        resumed_from=location.shown(f"{checkpoints.CHECKPOINT_DIR}/{resume_from[0].name}") if resume_from else None,
        warm_started_from=str(warm_path) if warm_path else None,
        mlflow_run_id=manifest.get("mlflow_run_id"),
        mlflow_tracking_uri=manifest.get("mlflow_tracking_uri"),
        checkpoint_uri=location.uri_for(best_key),
        world_size=world,
        total_envs=total_envs,
        rank_parameters_sha256=rank_hashes,
        performance=performance,
    )
    if tracker is not None:
        tracker.log_metrics(
            {"Stats/train_env_steps_per_s": result.env_steps_per_s, "Stats/train_time_s": result.train_time_s},
            step=cfg.timesteps * total_envs,
        )
        for name in ("config.resolved.yaml", "agent.yaml", "metrics.jsonl"):
            tracker.log_artifact(run_dir / name)
    result.wall_time_s = round(time.monotonic() - t_wall, 3)
    checkpoints.atomic_write_text(run_dir / "train_result.json", result.to_json())
    location.put("metrics.jsonl", "train_result.json", checkpoints.MANIFEST)  # the manifest last, as always
    if tracker is not None:
        tracker.log_artifact(run_dir / "train_result.json")
        tracker.log_artifact(run_dir / checkpoints.MANIFEST)
        if not tracker.close():
            print("[trainer] warning: MLflow tracking was incomplete (see the warning above)", flush=True)
    return result


def materialization_metadata(result: TrainResult) -> dict[str, Any]:
    """The train asset's metadata (docs/architecture.md)."""
    return {
        "mlflow_run_id": result.mlflow_run_id,
        "mlflow_tracking_uri": result.mlflow_tracking_uri,
        "run_dir": result.run_dir,
        "checkpoint_uri": result.checkpoint_uri,
        "checkpoint_sha256": result.best_checkpoint_sha256,
        "env_steps_per_s": result.env_steps_per_s,
        "wall_time_s": result.wall_time_s,
        "train_time_s": result.train_time_s,
        "timesteps": result.timesteps,
        "num_envs": result.num_envs,
        "world_size": result.world_size,
        "total_envs": result.total_envs,
        "device": result.device,
        "gpu_count": result.gpu_count,
        "final_mean_return": result.final_mean_return,
        "final_mean_episode_length": result.final_mean_episode_length,
        # Pipes takes a dict value only in its typed form
        **({"performance_active": {"raw_value": result.performance["active"], "type": "json"},
            "performance_off": {"raw_value": result.performance["off"], "type": "json"}} if result.performance else {}),
    }
