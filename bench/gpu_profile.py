"""Where does a training step go? Phase timings and a torch-profiler table for our trainer on one GPU.

Runs `trainer.train` on a task config and instruments its loop (trainer/loop.py `train_loop`):
  --mode phases    synchronises the device around each phase (policy act, env step, record, PPO update) and prints
                   the mean milliseconds per env step each one costs (exclusive time; the syncs remove overlap, so
                   the sum is larger than an unsynchronised step)
  --mode torch     torch.profiler over `--profile-steps` env steps after a warm-up: the top ops by self CPU time
                   and by device time, plus the number of kernel launches per env step
  --mode none      plain run (the throughput to compare with)
  --warm-start     start from a checkpoint (e.g. a solved policy: does a phase cost more once episodes run long?)
  --mode envcheck  after the run, step the same env again 200 times each: with zero actions, with the policy's
                   actions, with the policy's actions recorded, and the full loop (policy, record, PPO update): the
                   ms per env step of each says whether the env, the agent or their interleaving costs the time
For a Python-level view run it under py-spy:  py-spy record -f raw -o spy.txt -- python bench/gpu_profile.py ...

    python bench/gpu_profile.py --config task_configs/cartpole_gpu.yaml --mode phases --timesteps 320
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _sync(device) -> None:
    import torch

    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def _instrument_phases(agent, env, totals: collections.Counter, counts: collections.Counter) -> None:
    def timed(name, fn):
        def wrapper(*args, **kwargs):
            _sync(agent.device)
            t0 = time.perf_counter()
            out = fn(*args, **kwargs)
            _sync(agent.device)
            totals[name] += time.perf_counter() - t0
            counts[name] += 1
            return out

        return wrapper

    agent.act = timed("act", agent.act)
    agent.record_transition = timed("record", agent.record_transition)
    agent.update = timed("update", agent.update)
    env.step = timed("env_step", env.step)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=ROOT / "task_configs" / "cartpole_gpu.yaml")
    parser.add_argument("--mode", choices=["phases", "torch", "none", "envcheck"], default="phases")
    parser.add_argument("--timesteps", type=int, default=320)
    parser.add_argument("--num-envs", type=int)
    parser.add_argument("--profile-steps", type=int, default=64)
    parser.add_argument("--overrides", default="{}", help="JSON merged onto the task config")
    parser.add_argument("--warm-start", type=Path, metavar="CKPT",
                        help="start from this checkpoint's weights (profile a solved policy's long episodes)")
    parser.add_argument("--out", type=Path, help="write the results (JSON) here too")
    parser.add_argument("--no-validate-args", action="store_true",
                        help="turn off torch.distributions argument checks (each one is a host-device sync)")
    args = parser.parse_args()
    if args.no_validate_args:
        import torch

        torch.distributions.Distribution.set_default_validate_args(False)

    from trainer import loop as loop_mod
    from trainer.config import TaskConfig, load_task_config
    from trainer.train import train

    base = load_task_config(args.config).model_dump(mode="json")
    merged = _merge(base, json.loads(args.overrides))
    merged["timesteps"] = args.timesteps
    merged["checkpoint_interval"] = args.timesteps
    if args.num_envs:
        merged["num_envs"] = args.num_envs
    cfg = TaskConfig.model_validate(merged)

    totals: collections.Counter = collections.Counter()
    counts: collections.Counter = collections.Counter()
    tables: dict[str, str] = {}
    original_loop = loop_mod.train_loop

    def loop(trainer, agent, state, start):
        if args.mode == "phases":
            _instrument_phases(agent, trainer.env, totals, counts)
            return original_loop(trainer, agent, state, start)
        if args.mode == "torch":
            import torch
            from torch.profiler import ProfilerActivity, profile, schedule

            warm = cfg.timesteps - args.profile_steps
            steps = {"n": 0}
            activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch.cuda.is_available() else [])
            prof = profile(activities=activities,
                           schedule=schedule(wait=max(warm - 1, 0), warmup=1, active=args.profile_steps, repeat=1))
            step_fn = trainer.env.step

            def stepped(*a, **k):
                out = step_fn(*a, **k)
                steps["n"] += 1
                prof.step()
                return out

            trainer.env.step = stepped
            with prof:
                original_loop(trainer, agent, state, start)
            _sync(agent.device)
            averages = prof.key_averages()
            tables["self_cpu"] = averages.table(sort_by="self_cpu_time_total", row_limit=35)
            tables["device"] = averages.table(sort_by="self_device_time_total", row_limit=25)
            launches = sum(e.count for e in averages if e.key in ("cudaLaunchKernel", "cuLaunchKernel",
                                                                  "cudaLaunchKernelExC", "cudaGraphLaunch"))
            tables["launches_per_step"] = f"{launches / max(args.profile_steps, 1):.1f}"
            return None
        if args.mode == "envcheck":
            original_loop(trainer, agent, state, start)
            tables["envcheck"] = json.dumps(_envcheck(trainer.env, agent, cfg.timesteps), indent=1)
            return None
        return original_loop(trainer, agent, state, start)

    loop_mod.train_loop = loop
    with tempfile.TemporaryDirectory() as tmp:
        result = train(cfg, Path(tmp) / "run", tracking=False, console=None, warm_start=args.warm_start)

    steps = cfg.timesteps
    report = {"config": str(args.config), "mode": args.mode, "num_envs": cfg.num_envs, "timesteps": steps,
              "env_steps_per_s": result.env_steps_per_s, "train_time_s": result.train_time_s}
    if args.mode == "phases":
        report["ms_per_env_step"] = {k: round(1000 * v / steps, 3) for k, v in totals.items()}
        report["calls"] = dict(counts)
        report["ms_per_update"] = round(1000 * totals["update"] / max(counts["update"], 1), 2)
    print(json.dumps(report, indent=1))
    for name, table in tables.items():
        print(f"\n== {name} ==\n{table}")
    if args.out:
        args.out.write_text(json.dumps({**report, "tables": tables}, indent=1))


def _envcheck(env, agent, timesteps: int, steps: int = 200) -> dict:
    import torch

    def timed(label, body):
        for _ in range(10):
            body()
        _sync(agent.device)
        t0 = time.perf_counter()
        for _ in range(steps):
            body()
        _sync(agent.device)
        out[label] = round(1000 * (time.perf_counter() - t0) / steps, 3)

    out: dict = {}
    obs = {"o": env.reset()[0]}
    zeros = torch.zeros(env.num_envs, env.action_space.shape[0], device=env.device)
    with torch.no_grad():
        timed("env.step(zeros)", lambda: env.step(zeros))

        def act_step(record: bool):
            actions, _ = agent.act(obs["o"], None, timestep=0, timesteps=timesteps)
            nxt, rew, term, trunc, infos = env.step(actions)
            if record:
                agent.record_transition(observations=obs["o"], states=None, actions=actions, rewards=rew,
                                        next_observations=nxt, next_states=None, terminated=term, truncated=trunc,
                                        infos=infos, timestep=0, timesteps=timesteps)
            obs["o"] = nxt

        timed("act + env.step", lambda: act_step(False))
        timed("act + env.step + record", lambda: act_step(True))
        timed("env.step(zeros) again", lambda: env.step(zeros))
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        gpu = []
        for _ in range(50):
            actions, _ = agent.act(obs["o"], None, timestep=0, timesteps=timesteps)
            start.record()
            obs["o"] = env.step(actions)[0]
            end.record()
            end.synchronize()
            gpu.append(start.elapsed_time(end))
        out["env.step GPU-event ms (median)"] = sorted(gpu)[len(gpu) // 2]
    return out


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


if __name__ == "__main__":
    main()
