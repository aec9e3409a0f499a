"""STAND-IN for `python -m trainer` in orchestration tests (sensor, automation, backfill, promotion): it speaks the
trainer's CLI and Pipes contract (docs/architecture.md) in a second instead of training. The real trainer runs in
test_chain.py and test_ui.py. Evaluation numbers come from STANDIN_MEAN_RETURN (default 5.0); STANDIN_FAIL_TRAIN=1
makes `train` fail (exit 1)."""

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

import yaml
from dagster_pipes import open_dagster_pipes


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tiny_onnx(path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("obs", TensorProto.FLOAT, [None, 4])
    y = helper.make_tensor_value_info("actions", TensorProto.FLOAT, [None, 4])
    graph = helper.make_graph([helper.make_node("Identity", ["obs"], ["actions"])], "standin", [x], [y],
                              doc_string=os.urandom(8).hex())  # every export is a distinct model
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("step", choices=["train", "evaluate", "export"])
    parser.add_argument("--config", required=True)
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--checkpoint")
    parser.add_argument("--checkpoint-sha256")
    parser.add_argument("--out")
    args, _ = parser.parse_known_args()
    cfg = yaml.safe_load(Path(args.config).read_text())
    run_dir = Path(args.run_dir)
    if args.step != "train":  # like the trainer: the orchestrator's recorded sha256, or exit 2
        ckpt = run_dir / "checkpoints" / (args.checkpoint or "best_agent.pt")
        if not args.checkpoint_sha256 or sha256(ckpt) != args.checkpoint_sha256:
            print(f"error: checkpoint {ckpt} does not match --checkpoint-sha256 {args.checkpoint_sha256}",
                  file=sys.stderr)
            return 2
    if args.step == "train" and os.environ.get("STANDIN_FAIL_TRAIN"):
        print("stand-in training failed (STANDIN_FAIL_TRAIN)", file=sys.stderr)
        return 1
    with open_dagster_pipes() as pipes:
        if args.step == "train":
            ckpt = run_dir / "checkpoints" / "best_agent.pt"
            ckpt.parent.mkdir(parents=True, exist_ok=True)
            ckpt.write_bytes(os.urandom(64))
            pipes.report_asset_materialization(metadata={
                "run_dir": str(run_dir), "checkpoint_uri": str(ckpt), "checkpoint_sha256": sha256(ckpt),
                "env_steps_per_s": 1000.0, "wall_time_s": 1.5, "train_time_s": 1.0, "timesteps": cfg["timesteps"],
                "num_envs": cfg["num_envs"], "device": "cpu", "gpu_count": 0, "final_mean_return": 1.0,
                "final_mean_episode_length": 10.0,
            })
        elif args.step == "evaluate":
            out = Path(args.out)
            out.mkdir(parents=True, exist_ok=True)
            mean_return = float(os.environ.get("STANDIN_MEAN_RETURN", "5.0"))
            threshold = (cfg.get("success") or {}).get("min_mean_return")
            passed = threshold is None or mean_return >= threshold
            (out / "report.md").write_text(f"# stand-in report\nmean_return {mean_return}\n")
            numbers = {"mean_return": mean_return, "std_return": 0.1, "mean_episode_length": 300.0,
                       "success_rate": 1.0 if passed else 0.0, "episodes": 10}
            pipes.report_asset_materialization(metadata={
                **numbers, "passed": passed, "report_path": str(out / "report.md"),
                "report": {"raw_value": f"| metric | value |\n|---|---|\n| mean_return | {mean_return:g} |",
                           "type": "md"},
            })
            thresholds = {} if threshold is None else {"threshold_mean_return": threshold}  # the trainer's names
            pipes.report_asset_check(check_name="evaluation_gate", passed=passed, severity="ERROR",
                                     metadata={**numbers, **thresholds})
        else:
            out = Path(args.out)
            out.mkdir(parents=True, exist_ok=True)
            model = out / "policy.onnx"
            tiny_onnx(model)
            pipes.report_asset_materialization(metadata={
                "onnx_uri": str(model), "onnx_sha256": sha256(model), "max_abs_diff": 0.0,
                "latency_p50_ms": 0.01, "latency_p95_ms": 0.02, "latency_p99_ms": 0.03,
            })
            pipes.report_asset_check(check_name="onnx_parity", passed=True, metadata={"max_abs_diff": 0.0})
    print(json.dumps({"standin": args.step}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
