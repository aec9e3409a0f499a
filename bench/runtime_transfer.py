"""Train Isaac-Ant-Direct in one Isaac Lab runtime and evaluate the policy in both (CPU or GPU).

Why: isaaclab 3.0.0's Warp runtime never updated its sensors, so policies trained there failed in the torch runtime
(trainer/warp_sensors.py). This trains `--config` (default: the CPU smoke config with `env_frontend: warp`) through
`python -m trainer train`, then evaluates its last checkpoint in the Warp and the torch runtime the way
bench/gpu_ant_curves.py does (fresh env, fixed seed, mean actions, first episode of each env), and reports the
observation scaler's std and whether the first-layer weights moved on the 24 feet-wrench inputs. `--no-sensor-fix`
runs training and the Warp evaluation without trainer/warp_sensors.py (Isaac Lab as shipped), to show the defect.

  python bench/runtime_transfer.py --updates 100 --num-envs 64               # docs/benchmarks.md, CPU numbers
  python bench/runtime_transfer.py --updates 100 --num-envs 64 --no-sensor-fix
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
FEET = slice(28, 52)  # Ant's feet joint wrenches in its 60 observations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=ROOT / "tests" / "trainer" / "ant_cpu.yaml")
    parser.add_argument("--frontend", choices=["warp", "torch"], default="warp", help="the runtime it trains in")
    parser.add_argument("--updates", type=int, default=100)
    parser.add_argument("--num-envs", type=int, default=64)
    parser.add_argument("--eval-envs", type=int, default=64)
    parser.add_argument("--eval-seed", type=int, default=1000)
    parser.add_argument("--no-sensor-fix", action="store_true", help="Isaac Lab's Warp runtime as shipped")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    if args.no_sensor_fix:
        import trainer.warp_sensors

        trainer.warp_sensors.fix_warp_runtime_sensors = lambda env_cfg: None
    import torch

    from tests.trainer.spec_agent import spec_agent
    from trainer.cli import main as trainer_main
    from trainer.config import load_task_config
    from trainer.envs import make_env
    from trainer.evaluate import run_episodes
    from trainer.files import sha256_file
    from trainer.trained_run import restore_policy

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = yaml.safe_load(args.config.read_text())
        rollouts = load_task_config(args.config).agent_cfg()["agent"]["rollouts"]
        data.update(num_envs=args.num_envs, timesteps=args.updates * rollouts,
                    checkpoint_interval=args.updates * rollouts)
        data.setdefault("performance", {})["env_frontend"] = args.frontend
        config = work / args.config.name
        config.write_text(yaml.safe_dump(data, sort_keys=False))
        run = work / "run"
        if trainer_main(["train", "--config", str(config), "--run-dir", str(run), "--no-tracking"]):
            raise SystemExit("training failed")
        ckpt = run / "checkpoints" / f"agent_{args.updates * rollouts}.pt"
        cfg = load_task_config(config)
        shown = args.config.resolve()
        shown = shown.relative_to(ROOT) if shown.is_relative_to(ROOT) else shown
        result = {"config": str(shown), "trained_in": args.frontend, "updates": args.updates,
                  "num_envs": args.num_envs, "device": cfg.device, "sensor_fix": not args.no_sensor_fix,
                  "eval": {"envs": args.eval_envs, "seed": args.eval_seed}}
        for frontend in ("warp", "torch"):
            cfg.performance.env_frontend = frontend
            with make_env(cfg, num_envs=args.eval_envs, seed=args.eval_seed) as env, \
                    tempfile.TemporaryDirectory() as scratch:
                policy = restore_policy(env, cfg, Path(scratch), ckpt, sha256_file(ckpt), seed=args.eval_seed)
                with torch.inference_mode():
                    returns, lengths = run_episodes(env, policy.agent, int(env.unwrapped.max_episode_length))
            result[f"evaluated_in_{frontend}"] = {"mean_return": round(statistics.fmean(returns), 3),
                                                  "mean_length": round(statistics.fmean(lengths), 1)}
        saved = torch.load(ckpt, weights_only=True, map_location="cpu")
        std = saved["observation_preprocessor"]["running_variance"].sqrt()
        initial = spec_agent(str(config), device="cpu", num_envs=1, memory_size=1, agent={}, obs_dim=60, act_dim=8)
        first = "net_container.0.weight"
        moved = (saved["policy"][first] - initial.policy.state_dict()[first]).abs()
        result["feet_inputs"] = {"scaler_std_min": float(std[FEET].min()), "scaler_std_max": float(std[FEET].max()),
                                 "first_layer_max_change": float(moved[:, FEET].max()),
                                 "other_inputs_first_layer_max_change": float(moved[:, :FEET.start].max())}
    print(json.dumps(result, indent=1))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
