"""`python -m trainer {train,evaluate,export,assets,validate}`.

`evaluate` and `export` belong to trainer/evaluate.py and trainer/export.py: this CLI hands them the rest of the
command line (`trainer.evaluate.main(argv)` / `trainer.export.main(argv)`), imported only when chosen, so each
module owns its own arguments and `train`/`validate` never import them.

Exit codes: 0 ok, 2 bad input (config, run directory, checkpoint), 1 anything else; `train` stopped by SIGTERM /
SIGINT: 143 / 130, after checkpointing the update it was in (trainer/preemption.py).

`train` with `gpus: N > 1` and `device: cuda` (or `--nproc-per-node N`, also on CPU) checks its input, then runs
itself again as N ranks under torchrun (trainer/distributed.py) and exits with their code (2 if any rank rejected
its input). Under torchrun (WORLD_SIZE set) it is one rank and joins the process group.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
DELEGATED = {"evaluate": "trainer.evaluate", "export": "trainer.export"}

EPILOG = """examples:
  python -m trainer validate task_configs/*.yaml
  python -m trainer train --config task_configs/cartpole.yaml --run-dir .data/runs/cartpole/local/run1
  python -m trainer train --config task_configs/cartpole.yaml --run-dir .data/runs/cartpole/local/run1 --resume
  python -m trainer train --config task_configs/cartpole.yaml --resume \
      --run-dir https://ACCOUNT.blob.core.windows.net/runs/cartpole/eastus/run1   (see docs/azure.md)
  python -m trainer train --config task_configs/cartpole.yaml --run-dir DIR2 --warm-start DIR/checkpoints/best_agent.pt
  python -m trainer train --config task_configs/cartpole.yaml --run-dir DIR3 --nproc-per-node 2   (2 CPU ranks)
  python -m trainer evaluate --config task_configs/cartpole.yaml --run-dir DIR --out DIR/eval
  python -m trainer export --config task_configs/cartpole.yaml --run-dir DIR --out DIR/export
  python -m trainer assets
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m trainer",
        description="Robot RL trainer: Isaac Lab 3.0 (kit-less, Newton) or gymnasium tasks with skrl PPO.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = sub.add_parser(
        "train",
        help="train a policy into a run directory",
        description="Train with skrl PPO; writes checkpoints, manifest, metrics and MLflow tracking.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument("--config", required=True, type=Path, help="task config YAML (task_configs/*.yaml)")
    train.add_argument("--run-dir", required=True,
                       help="run directory to create (or to resume): a folder, a file:// URI or a Blob URL (then the "
                            "trainer works in a scratch folder and writes every file through to the store)")
    start = train.add_mutually_exclusive_group()
    start.add_argument("--resume", action="store_true",
                       help="continue this run from its latest verified checkpoint to the same target")
    start.add_argument("--warm-start", type=Path, metavar="CKPT",
                       help="initialize weights from a checkpoint, then train afresh (counters start at 0); the "
                            "checkpoint must be listed in its run's manifest.json or match --warm-start-sha256")
    train.add_argument("--warm-start-sha256", metavar="SHA256",
                       help="sha256 the --warm-start checkpoint must have (the source policy's checkpoint_sha256)")
    train.add_argument("--num-envs", type=int, help="override num_envs")
    train.add_argument("--timesteps", type=int, help="override training length (timesteps per env)")
    train.add_argument("--device", help="override device: cpu, cuda, cuda:N")
    train.add_argument("--seed", type=int, help="override seed")
    train.add_argument("--nproc-per-node", type=int, metavar="N",
                       help="run N ranks on this node, overriding the task's gpus (default: gpus on CUDA, 1 on CPU); "
                            "on CPU: N gloo ranks, for tests and debugging. num_envs is per rank")
    train.add_argument("--tracking-uri", help="MLflow tracking URI (default: MLFLOW_TRACKING_URI or the local sqlite store)")
    train.add_argument("--experiment", help="MLflow experiment name (default: the task config's name)")
    train.add_argument("--no-tracking", action="store_true", help="do not log to MLflow")
    train.add_argument("--asset-root", help="robot asset root: local (default), default (NVIDIA's), a folder or URL")
    train.add_argument("--kernel-cache", metavar="URI",
                       help="restore the Warp kernel cache from, and publish it to, this store prefix (folder, file:// "
                            "or Blob URL; default: TRAINER_KERNEL_CACHE; see trainer/kernel_cache.py)")

    validate = sub.add_parser(
        "validate", help="validate task config files as the Dagster sensor does, name = file name included (exit 2 "
        "with the problems)")
    validate.add_argument("configs", nargs="+", type=Path, metavar="FILE")

    assets = sub.add_parser("assets", help="build the offline robot asset root and print its path")
    assets.add_argument("--rebuild", action="store_true", help="rebuild even if the cached root is current")

    for name in DELEGATED:
        sub.add_parser(name, help=f"{name} a trained run (see: python -m trainer {name} --help)", add_help=False)
    return parser


def _bad_input_errors() -> tuple[type[BaseException], ...]:
    from trainer.bad_input import bad_input_errors
    from trainer.capacity import DeviceError
    from trainer.distributed import DistributedConfigError
    from trainer.run_dir import RunDirError

    return bad_input_errors(RunDirError, DistributedConfigError, DeviceError)


def _cmd_validate(args: argparse.Namespace) -> int:
    from trainer.config import ConfigError, load_task_config

    status = EXIT_OK
    for path in args.configs:
        try:
            cfg = load_task_config(path, check_name=True)  # the rules the sensor and the task_config asset apply
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = EXIT_BAD_INPUT
        else:
            print(f"ok: {path}: {cfg.name} ({cfg.task}, {cfg.num_envs} envs, {cfg.device}) "
                  f"config_sha256={cfg.config_sha256()[:16]}")
    return status


def _cmd_assets(args: argparse.Namespace) -> int:
    from trainer.sim_assets import offline_asset_root

    print(offline_asset_root(rebuild=args.rebuild))
    return EXIT_OK


def _cmd_train(args: argparse.Namespace) -> int:
    import os

    if args.kernel_cache:  # read by trainer.kernel_cache.KernelCache.open in train(), like a launcher's env var
        from trainer.kernel_cache import KERNEL_CACHE_ENV

        os.environ[KERNEL_CACHE_ENV] = args.kernel_cache
    from trainer import capacity, distributed
    from trainer.config import load_task_config
    from trainer.storage.run_location import open_run_location

    cfg = load_task_config(args.config)
    gpus = None
    if args.device and args.device != "cuda":
        gpus = 1  # `--device cpu` / `cuda:N` trains on that one device, whatever the task's gpus
    elif (args.device or cfg.device) == "cuda" and args.nproc_per_node:
        gpus = args.nproc_per_node
    cfg = cfg.with_overrides(
        num_envs=args.num_envs, timesteps=args.timesteps, device=args.device, seed=args.seed, gpus=gpus
    )
    world = distributed.requested_world_size(cfg.device, cfg.gpus, args.nproc_per_node)
    started = distributed.from_env()
    if world > 1 and not started.is_distributed:
        distributed.check_devices(cfg.device, world)
    # a device this machine lacks, or too small for the envs: said before anything is built or written
    capacity.check_training_device(cfg.device, cfg.num_envs, cfg.family, cfg.agent_cfg()["agent"]["rollouts"])
    # a store URL is opened (and checked to answer) now: bad input is refused before any training
    with open_run_location(args.run_dir) as location:
        if location.remote:
            location.restore_for_training(resume=args.resume)
        return _train_at(location, cfg, args, world, started)


def _train_at(location, cfg, args: argparse.Namespace, world: int, started) -> int:
    """Train into `location`; success is reported only once `location.finish()` verified every file in its store."""
    import os

    from trainer import distributed
    from trainer.pipes import PipesSession, pipes_session
    from trainer.preemption import StopRequested, graceful_stop
    from trainer.run_dir import check_request
    from trainer.train import train
    from trainer.train_result import materialization_metadata

    if world > 1 and not started.is_distributed:
        check_request(cfg, location.local_dir, resume=args.resume, warm_start=args.warm_start,
                      warm_start_sha256=args.warm_start_sha256, world_size=world)
        if cfg.family == "isaaclab":  # every rank would refuse a bad --asset-root: say it once, before any starts
            from trainer.sim_assets import configure_asset_root

            configure_asset_root(args.asset_root)  # and the offline root is built once, not once per rank
        return distributed.launch(world, args.argv)
    per_node = int(os.environ.get("LOCAL_WORLD_SIZE", started.world_size))
    if started.is_distributed and per_node != world:  # gpus is per node: torchrun may span several nodes
        raise distributed.DistributedConfigError(
            f"gpus: the run asks for {world} process(es) per node but torchrun started {per_node} "
            "(LOCAL_WORLD_SIZE); set torchrun's --nproc-per-node to the task's gpus, or pass the same "
            "--nproc-per-node to the trainer"
        )

    with graceful_stop() as stop, distributed.process_group(cfg.device) as rank, (
        pipes_session() if rank.is_main else contextlib.nullcontext(PipesSession(None))
    ) as pipes:
        try:
            result = train(
                cfg,
                location,
                resume=args.resume,
                warm_start=args.warm_start,
                warm_start_sha256=args.warm_start_sha256,
                tracking_uri=args.tracking_uri,
                experiment=args.experiment,
                tracking=not args.no_tracking,
                asset_root=args.asset_root,
                pipes=pipes,
                stop=stop,
            )
        except StopRequested as stopped:  # SIGTERM/SIGINT: the checkpoint is stored, Pipes closes cleanly
            location.finish()
            if stopped.checkpoint is not None:  # every rank stopped at the same update (trainer/preemption.py):
                distributed.barrier()  # none exits (torchrun then stops the rest) before rank 0's checkpoint is stored
            else:
                print(f"[trainer] {stopped.name}: stopped before training began; nothing new to checkpoint",
                      file=sys.stderr, flush=True)
            return stopped.exit_code
        if result is None:  # a non-zero rank: rank 0 reports
            return EXIT_OK
        location.finish()  # StorageError (exit 1) when a file could not be stored and verified after retries
        pipes.report_materialization(materialization_metadata(result), data_version=result.best_checkpoint_sha256[:16])
    print(
        f"[trainer] done: {result.timesteps} timesteps x {result.total_envs} envs in {result.train_time_s:.1f} s "
        f"({result.env_steps_per_s:,.0f} env-steps/s), final mean return {result.final_mean_return}, "
        f"episode length {result.final_mean_episode_length}; best checkpoint {result.best_checkpoint}",
        flush=True,
    )
    return EXIT_OK


COMMANDS = {"train": _cmd_train, "validate": _cmd_validate, "assets": _cmd_assets}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in DELEGATED:
        import importlib

        return importlib.import_module(DELEGATED[argv[0]]).main(argv[1:])
    args = build_parser().parse_args(argv)
    args.argv = argv  # a distributed `train` runs this same command line once per rank
    from trainer.preemption import StopRequested
    from trainer.storage.base import StorageError

    try:
        return COMMANDS[args.command](args)
    except _bad_input_errors() as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except StorageError as exc:  # the store failed after its retries (not bad input); its message has no secret
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except StopRequested as stopped:  # a second signal, or one while the run is being stored (trainer/preemption.py)
        print(f"stopped by {stopped.name}", file=sys.stderr)
        return stopped.exit_code
