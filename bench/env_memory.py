"""Memory per env: the measurement behind trainer/capacity.py's PER_ENV_BYTES (lower bounds for the num_envs check).

Builds each shipped config's env at two sizes, each in a fresh process, and prints the RSS difference per added env:

    python bench/env_memory.py                              # cartpole 256/32768, inverted_pendulum 8/256 (CPU)
    python bench/env_memory.py --config task_configs/cartpole.yaml --sizes 256 32768
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = [("task_configs/cartpole.yaml", 256, 32768), ("task_configs/inverted_pendulum.yaml", 8, 256)]
PROBE = """
import json, os, sys
from trainer.config import load_task_config
from trainer.envs import make_env
cfg = load_task_config(sys.argv[1]).with_overrides(num_envs=int(sys.argv[2]))
with make_env(cfg) as env:
    env.reset()
    rss = int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
print(json.dumps({"rss": rss}))
"""


def rss_with(config: str, num_envs: int) -> int:
    out = subprocess.run([sys.executable, "-c", PROBE, config, str(num_envs)], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["rss"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config")
    parser.add_argument("--sizes", type=int, nargs=2, metavar=("SMALL", "LARGE"))
    args = parser.parse_args()
    runs = [(args.config, *args.sizes)] if args.config else DEFAULT
    for config, small, large in runs:
        low, high = rss_with(config, small), rss_with(config, large)
        print(json.dumps({"config": config, "num_envs": [small, large], "rss_bytes": [low, high],
                          "bytes_per_env": round((high - low) / (large - small))}), flush=True)


if __name__ == "__main__":
    main()
