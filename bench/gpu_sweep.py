"""Hyper-parameter/loop sweep behind task_configs/cartpole_gpu.yaml: throughput AND time to solve per variant.

Each variant is a JSON object merged onto the task config (e.g. '{"performance": {"lean": true}}' or
'{"agent": {"base": "task", "overrides": {"agent": {"learning_epochs": 4}}}}'); one process per variant.

  python bench/gpu_sweep.py --num-envs 4096 --variant '{}' --variant '{"performance": {"lean": true}}'
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_throughput import ROOT, ours


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-envs", type=int, default=4096)
    parser.add_argument("--config", type=Path, default=ROOT / "task_configs" / "cartpole_gpu.yaml")
    parser.add_argument("--variant", action="append", default=[], help="JSON merged onto the task config")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for i, variant in enumerate(args.variant or ["{}"]):
            result = ours(args.config, args.num_envs, Path(tmp), f"v{i}", json.loads(variant))
            print(json.dumps({"variant": json.loads(variant), **result}), flush=True)


if __name__ == "__main__":
    main()
