"""ONNX Runtime vs torch inference latency of an exported policy on CPU (target: ORT batch-1 p50 <= 0.5 x torch).

Both runtimes run the same graph: observation normalizer + policy mean, as `python -m trainer export` writes it. The
torch baseline is that module's forward under `torch.inference_mode()`; skrl's own `agent.act(...)` (which also
samples an action) is timed too, as the path a torch deployment built on skrl would take. Latency does not depend on
the weights' values, so without --run-dir the policy is the task's untrained network.

    .venv/bin/python bench/onnx_latency.py --config task_configs/cartpole.yaml [--run-dir DIR] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("task_configs/cartpole.yaml"))
    parser.add_argument("--run-dir", type=Path, help="use this run's best checkpoint instead of untrained weights")
    parser.add_argument("--batches", default="1,4096", help="comma-separated batch sizes")
    parser.add_argument("--iterations", type=int, default=2000, help="timed calls at batch 1 (fewer for large ones)")
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads for both runtimes (0: library default)")
    args = parser.parse_args()

    import torch

    from trainer.agent import build_runner
    from trainer.config import load_task_config
    from trainer.export import (
        agent_reference,
        checkpoint_dims,
        deterministic_policy,
        export_onnx,
        latency_percentiles,
        measure_latency,
        ort_session,
        spec_env,
        task_interface,
    )

    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = load_task_config(args.config)
    if args.run_dir:
        from trainer.trained_run import verified_checkpoint

        checkpoint, sha256 = verified_checkpoint(args.run_dir, None)
        obs_dim, act_dim = checkpoint_dims(checkpoint, sha256)
    else:
        checkpoint, sha256, obs_dim, act_dim = None, None, None, None
    interface = task_interface(cfg, obs_dim, act_dim)
    obs_dim = int(interface.observation_space.shape[0])
    batches = [int(b) for b in args.batches.split(",")]

    with tempfile.TemporaryDirectory() as scratch:
        runner = build_runner(spec_env(interface.observation_space, interface.action_space),
                              cfg.agent_cfg(), scratch, training=False)
        agent = runner.agent
        if checkpoint is not None:
            from trainer.checkpoints import load_agent

            load_agent(agent, checkpoint, sha256)
        agent.enable_training_mode(False, apply_to_models=True)
        module = deterministic_policy(agent)
        onnx_path = Path(scratch) / "policy.onnx"
        export_onnx(module, obs_dim, onnx_path, opset=cfg.export.opset)
        session = ort_session(onnx_path, threads=args.threads or None)
        latency = measure_latency(module, session, obs_dim, batches, iterations=args.iterations)
        act = agent_reference(agent)
        skrl_act = {}
        for batch in batches:
            obs = torch.randn(batch, obs_dim)
            n = max(20, args.iterations // max(1, batch // 256))
            skrl_act[f"batch_{batch}"] = latency_percentiles(lambda obs=obs: act(obs), iterations=n)
    latency["skrl_agent_act"] = skrl_act

    print(f"# {cfg.task}: obs {obs_dim}, actions {interface.action_space.shape[0]}, threads {args.threads or 'default'}, "
          f"torch {torch.__version__}, onnxruntime {__import__('onnxruntime').__version__}, {platform.processor() or platform.machine()}")
    print(f"{'batch':>6} {'runtime':>15} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9}")
    for batch in batches:
        key = f"batch_{batch}"
        for runtime in ("torch", "skrl_agent_act", "onnxruntime"):
            p = latency[runtime][key]
            print(f"{batch:>6} {runtime:>15} {p['p50_ms']:>9.4f} {p['p95_ms']:>9.4f} {p['p99_ms']:>9.4f}")
    ratios = {
        f"ort/torch p50 batch {b}": latency["onnxruntime"][f"batch_{b}"]["p50_ms"] / latency["torch"][f"batch_{b}"]["p50_ms"]
        for b in batches
    }
    for name, value in ratios.items():
        print(f"{name}: {value:.3f}")
    target = ratios[f"ort/torch p50 batch {batches[0]}"]
    print(f"target ort batch-{batches[0]} <= 0.5 x torch: {'MET' if target <= 0.5 else 'NOT MET'} ({target:.3f})")
    print("JSON", json.dumps({"latency": latency, "ratios": ratios}))


if __name__ == "__main__":
    main()
