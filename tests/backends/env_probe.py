"""A stand-in trainer module for the local backend's environment test: writes the environment it was given to
the file named by `--out` and reports through Pipes, like `python -m trainer <step>` would."""

import argparse
import json
import os
from pathlib import Path

from dagster_pipes import open_dagster_pipes

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("step")
    parser.add_argument("--config", required=True)
    parser.add_argument("--out", required=True)
    args, _ = parser.parse_known_args()
    with open_dagster_pipes() as pipes:
        Path(args.out).write_text(json.dumps(dict(os.environ)))
        pipes.report_asset_materialization(metadata={"variables": len(os.environ)})
