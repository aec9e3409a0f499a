"""Deterministic, seeded evaluation of a checkpoint in a fresh environment, judged against the task's success criteria.

K episodes run as K parallel environments, each contributing its first episode, with the policy's mean action. The
environment is created for the evaluation (never reused from training: skrl's wrappers reset only once, so a reused
env would start mid-episode) and seeded, so the same checkpoint and seed give the same numbers. The checkpoint's sha256
is verified against the run manifest before torch loads it.

Outputs in --out: evaluation.json (the numbers), report.md, learning_curve.png (from the run's metrics.jsonl) and
return_histogram.png.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainer.check_names import EVALUATION_GATE
from trainer.trained_run import (
    agent_cfg_for_run,
    check_config_matches_run,
    positive_int,
    restore_policy,
    verified_checkpoint,
)

if TYPE_CHECKING:
    from trainer.config import TaskConfig

RESULT_NAME = "evaluation.json"
REPORT_NAME = "report.md"
LEARNING_CURVE_NAME = "learning_curve.png"
HISTOGRAM_NAME = "return_histogram.png"


def _max_episode_length(env: Any, cfg: TaskConfig) -> int:
    if cfg.family == "isaaclab":
        return int(env.unwrapped.max_episode_length)
    import gymnasium as gym

    steps = gym.spec(cfg.task_id).max_episode_steps
    if not steps:
        raise ValueError(f"{cfg.task}: the gymnasium task has no time limit, so an evaluation episode cannot end")
    return int(steps)


def run_episodes(env: Any, agent: Any, max_length: int) -> tuple[list[float], list[int]]:
    """First episode of every parallel env with mean actions: (returns, lengths)."""
    import torch

    env._reset_once = True  # skrl wrappers reset only once per env object; make this reset real
    obs, _ = env.reset()
    n = env.num_envs
    returns = torch.zeros(n, dtype=torch.float64, device=env.device)
    lengths = torch.zeros(n, dtype=torch.int64, device=env.device)
    done = torch.zeros(n, dtype=torch.bool, device=env.device)
    with torch.inference_mode():
        for _ in range(max_length + 1):
            actions = agent.act(obs, None, timestep=0, timesteps=0)[1]["mean_actions"]
            obs, reward, terminated, truncated, _ = env.step(actions)
            running = ~done
            returns += reward.view(-1).double() * running
            lengths += running.long()
            done |= (terminated | truncated).view(-1)
            if bool(done.all()):
                break
    return returns.cpu().tolist(), lengths.cpu().tolist()


def judge(cfg: TaskConfig, returns: list[float], lengths: list[int], max_length: int) -> dict[str, Any]:
    """Summary numbers, per-criterion verdicts and `passed` (all configured criteria met)."""
    import numpy as np

    r = np.asarray(returns, dtype=np.float64)
    length = np.asarray(lengths, dtype=np.float64)
    s = cfg.success
    # An episode succeeds when it alone meets the per-episode thresholds; with none configured, when it lasts the
    # full time limit (it neither fell nor left the bounds).
    per_episode = np.ones(len(r), dtype=bool)
    rules = []
    if s.min_mean_episode_length is not None:
        per_episode &= length >= s.min_mean_episode_length
        rules.append(f"its length is >= {s.min_mean_episode_length:g}")
    if s.min_mean_return is not None:
        per_episode &= r >= s.min_mean_return
        rules.append(f"its return is >= {s.min_mean_return:g}")
    if not rules:
        per_episode = length >= max_length
        rules.append(f"it lasts the full {max_length} steps")
    numbers = {
        "mean_return": float(r.mean()),
        "std_return": float(r.std()),
        "min_return": float(r.min()),
        "max_return": float(r.max()),
        "mean_episode_length": float(length.mean()),
        "success_rate": float(per_episode.mean()),
    }
    criteria = [
        {"metric": metric, "op": ">=", "threshold": float(threshold), "value": numbers[metric],
         "met": bool(numbers[metric] >= threshold)}
        for metric, threshold in (
            ("mean_episode_length", s.min_mean_episode_length),
            ("mean_return", s.min_mean_return),
            ("success_rate", s.min_success_rate),
        )
        if threshold is not None
    ]
    return {
        **numbers,
        "max_episode_length": max_length,
        "episode_success_rule": " and ".join(rules),
        "criteria": criteria,
        "passed": all(c["met"] for c in criteria),
    }


def _open_kernel_cache(cfg: TaskConfig, device: str, uri: str | None) -> Any:
    if cfg.family != "isaaclab":
        return None
    from trainer.kernel_cache import KernelCache

    return KernelCache.open(device, cfg.name, uri)  # the task's own cache: its trust domain


def evaluate(
    cfg: TaskConfig,
    run_dir: Path,
    out_dir: Path,
    *,
    checkpoint: Path | None = None,
    episodes: int | None = None,
    seed: int | None = None,
    device: str | None = None,
    kernel_cache: str | None = None,
    checkpoint_sha256: str | None = None,
) -> dict[str, Any]:
    """Evaluate and write evaluation.json, report.md and the two PNGs into out_dir; returns the evaluation.json dict.

    `kernel_cache`: store prefix of the Warp kernel cache (default: TRAINER_KERNEL_CACHE; trainer/kernel_cache.py).
    `checkpoint_sha256`: the sha256 the checkpoint must have (recorded by the orchestrator), besides the manifest's.
    """
    from trainer.envs import make_env
    from trainer.plots import plot_learning_curve, plot_return_histogram
    from trainer.report import write_report
    from trainer.run_dir import env_runtime

    episodes = episodes or cfg.success.episodes
    seed = cfg.seed + 1 if seed is None else seed  # default: initial states the training's first reset did not see
    device = device or cfg.device
    started = time.perf_counter()
    # before the (slow) simulator start and torch.load
    path, sha256 = verified_checkpoint(run_dir, checkpoint, checkpoint_sha256)
    agent_cfg_for_run(cfg, run_dir)  # a tampered agent.yaml is refused before the simulator and torch.load
    check_config_matches_run(cfg, run_dir)
    # an evaluation pod is as fresh as a training pod: restore the compiled Warp kernels (TRAINER_KERNEL_CACHE)
    # before Warp starts, and publish any it had to compile (e.g. the first evaluation on a new GPU kind)
    cache = _open_kernel_cache(cfg, device, kernel_cache)
    with make_env(cfg, num_envs=episodes, seed=seed, device=device) as env:
        restored = restore_policy(env, cfg, run_dir, path, sha256, seed=seed)
        max_length = _max_episode_length(env, cfg)
        returns, lengths = run_episodes(env, restored.agent, max_length)
    if cache is not None:
        cache.publish()  # never raises: a warning at worst
    result = {
        "task": cfg.task,
        "config": cfg.name,
        "checkpoint": str(restored.checkpoint),
        "checkpoint_sha256": restored.checkpoint_sha256,
        "episodes": episodes,
        "seed": seed,
        "device": device,
        "env_runtime": env_runtime(cfg),
        **judge(cfg, returns, lengths, max_length),
        "returns": returns,
        "lengths": lengths,
        "eval_s": round(time.perf_counter() - started, 2),
    }

    with _staging(out_dir) as stage:
        title = f"{cfg.name} ({cfg.task})"
        plot_learning_curve(run_dir / "metrics.jsonl", stage / LEARNING_CURVE_NAME, title=f"training: {title}")
        plot_return_histogram(
            returns, stage / HISTOGRAM_NAME, title=f"evaluation returns: {title}", threshold=cfg.success.min_mean_return
        )
        write_report(
            result,
            stage / REPORT_NAME,
            plots={"learning curve": LEARNING_CURVE_NAME, "episode returns": HISTOGRAM_NAME},
        )
        (stage / RESULT_NAME).write_text(json.dumps(result, indent=2))
    return result


@contextlib.contextmanager
def _staging(out_dir: Path) -> Iterator[Path]:
    """Write into a scratch folder next to out_dir and move the files in only when all were written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".evaluation-", dir=out_dir) as scratch:
        stage = Path(scratch)
        yield stage
        # evaluation.json last: its presence means the whole set is there. A reused out_dir's old evaluation.json goes
        # first, so a crash while the files move never pairs it with the new report and plots
        (out_dir / RESULT_NAME).unlink(missing_ok=True)
        for item in sorted(stage.iterdir(), key=lambda p: p.name == RESULT_NAME):
            os.replace(item, out_dir / item.name)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m trainer evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, type=Path, help="task config YAML")
    parser.add_argument("--run-dir", required=True, help="training run directory (has manifest.json) or its store URI")
    parser.add_argument("--checkpoint", help="checkpoint to evaluate, path or store URI (default: the run's best)")
    parser.add_argument("--checkpoint-sha256", metavar="SHA256",
                        help="sha256 the checkpoint must have (the policy's recorded checkpoint_sha256); exit 2 if not")
    parser.add_argument("--out", required=True,
                        help="output folder for evaluation.json, report, plots: a folder, file:// URI or Blob URL")
    parser.add_argument("--episodes", type=positive_int, help="episodes K (default: the config's success.episodes)")
    parser.add_argument("--seed", type=int, help="environment seed (default: the config's seed + 1)")
    parser.add_argument("--device", help="torch/simulation device (default: the config's)")
    parser.add_argument("--kernel-cache", metavar="URI",
                        help="restore the Warp kernel cache from, and publish it to, this store prefix (folder, "
                             "file:// or Blob URL; default: TRAINER_KERNEL_CACHE; see trainer/kernel_cache.py)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """CLI entry: 0 when evaluated (passed or not: the gate is the asset check), 2 on bad input, 1 otherwise."""
    from trainer.config import load_task_config
    from trainer.pipes import pipes_session
    from trainer.report import markdown_image
    from trainer.storage import StorageError
    from trainer.storage.run_location import output_location, publish_outputs
    from trainer.trained_run import bad_input_errors, check_out_dir, localize_inputs

    args = _parser().parse_args(argv)
    with pipes_session() as pipes, contextlib.ExitStack() as stack:
        try:
            cfg = load_task_config(args.config)
            out = stack.enter_context(output_location(args.out))  # a store URL: a scratch folder, stored at the end
            check_out_dir(out.local_dir)
            run_dir, checkpoint = localize_inputs(args.run_dir, args.checkpoint, stack)
            result = evaluate(
                cfg, run_dir, out.local_dir, checkpoint=checkpoint, episodes=args.episodes, seed=args.seed,
                device=args.device, kernel_cache=args.kernel_cache, checkpoint_sha256=args.checkpoint_sha256,
            )
            publish_outputs(out, RESULT_NAME)  # verified in the store before anything is reported
        except bad_input_errors() as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except StorageError as exc:  # the store failed after its retries (not bad input); its message has no secret
            print(f"error: {exc}", file=sys.stderr)
            return 1
        numbers = {k: result[k] for k in ("mean_return", "std_return", "mean_episode_length", "success_rate")}
        thresholds = {f"threshold_{c['metric']}": c["threshold"] for c in result["criteria"]}
        pipes.report_materialization(
            {
                **numbers,
                "episodes": result["episodes"],
                "seed": result["seed"],
                "passed": result["passed"],
                "checkpoint_sha256": result["checkpoint_sha256"],
                "report_path": out.shown(REPORT_NAME),
                "learning_curve": _md(markdown_image(out.local_dir / LEARNING_CURVE_NAME, "learning curve")),
                "return_histogram": _md(markdown_image(out.local_dir / HISTOGRAM_NAME, "episode returns")),
            }
        )
        pipes.report_check(EVALUATION_GATE, passed=result["passed"], metadata={**numbers, **thresholds})
    verdict = "PASSED" if result["passed"] else "FAILED"
    print(f"evaluation {verdict}: " + json.dumps({k: round(v, 4) for k, v in numbers.items()}))
    return 0


def _md(text: str) -> dict[str, str]:
    return {"raw_value": text, "type": "md"}
