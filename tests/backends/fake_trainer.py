"""A stand-in for `python -m trainer` in fast backend tests: speaks Dagster Pipes, honours --run-dir/--resume.

Behaviour via env: FAKE_TRAIN_S (seconds of "training"), FAKE_EXIT (exit code). Progress goes to
<run-dir>/progress.txt so a resumed attempt can show it continued instead of starting over.
"""

import argparse
import os
import sys
import time
from pathlib import Path

from dagster_pipes import open_dagster_pipes

PLANTED = "PLANTEDaccountKEY0123456789=="


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("step")
    parser.add_argument("--config", required=True)
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--resume", action="store_true")
    args, _ = parser.parse_known_args()
    run_dir = Path(args.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    progress = run_dir / "progress.txt"
    with open_dagster_pipes() as pipes:
        start = int(progress.read_text()) if args.resume and progress.exists() else 0
        pipes.log.info(f"fake {args.step}: config has {len(Path(args.config).read_text())} bytes, starting at {start}")
        print(f"stdout line from the fake trainer (resume={args.resume})", flush=True)
        if os.environ.get("FAKE_LEAK"):  # a task that prints a credential (a debug line, a library's repr)
            print(f"connecting with AccountKey={PLANTED};EndpointSuffix=core.windows.net", flush=True)
        for i in range(start, start + int(float(os.environ.get("FAKE_TRAIN_S", "0.5")) * 10)):
            progress.write_text(str(i + 1))
            time.sleep(0.1)
        code = int(os.environ.get("FAKE_EXIT", "0"))
        if code:
            print("fake trainer: failing on purpose", file=sys.stderr, flush=True)
            return code
        pipes.report_asset_materialization(metadata={"resumed_from": start, "resume_flag": args.resume,
                                                     "run_dir": str(run_dir)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
