"""A stand-in for `python -m trainer` in fast backend tests: speaks Dagster Pipes, honours --run-dir/--resume.

Its run directory is a store location like the real trainer's (`trainer.storage.open_store`: a Blob URL on Azurite
in the backend tests), because a pod's own disk dies with it. Progress goes to `<run-dir>/progress.txt` after every
step, so a resumed attempt shows it continued instead of starting over; SIGTERM (a graceful delete or eviction)
writes `<run-dir>/sigterm.txt` with the step reached and closes Pipes, as the real trainer checkpoints the update
it is in and closes Pipes (trainer/preemption.py).
Behaviour via env: FAKE_TRAIN_S (seconds of "training"), FAKE_EXIT (exit code), FAKE_LEAK (print a credential),
FAKE_IGNORE_SIGTERM (keep running after SIGTERM), FAKE_METRICS (stream a metric point per step, mean_return 0.0,
as the real trainer streams its curve).
"""

import argparse
import hashlib
import os
import signal
import sys
import time
from pathlib import Path

from dagster_pipes import open_dagster_pipes

PLANTED = "PLANTEDaccountKEY0123456789=="


def main() -> int:
    from trainer.storage import open_store

    parser = argparse.ArgumentParser()
    parser.add_argument("step")
    parser.add_argument("--config", required=True)
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--resume", action="store_true")
    args, _ = parser.parse_known_args()
    store = open_store(args.run_dir)
    state = {"step": 0}

    def on_sigterm(signum, frame):
        store.put_bytes(str(state["step"]).encode(), "sigterm.txt")
        if not os.environ.get("FAKE_IGNORE_SIGTERM"):  # a process that hangs on in its handler gets SIGKILLed
            sys.exit(143)

    signal.signal(signal.SIGTERM, on_sigterm)
    from trainer.pipes_blob import blob_pipes_io

    with open_dagster_pipes(**(blob_pipes_io(interval=0.2) or {})) as pipes:  # Blob when Dagster injected Blob params
        start = int(store.read_bytes("progress.txt")) if args.resume and store.exists("progress.txt") else 0
        pipes.log.info(f"fake {args.step}: config has {len(Path(args.config).read_text())} bytes, starting at {start}")
        print(f"stdout line from the fake trainer (resume={args.resume}) cwd={os.getcwd()} home={os.environ['HOME']}",
              flush=True)
        if os.environ.get("FAKE_LEAK"):  # a task that prints a credential (a debug line, a library's repr)
            print(f"connecting with AccountKey={PLANTED};EndpointSuffix=core.windows.net", flush=True)
        for i in range(start, start + int(float(os.environ.get("FAKE_TRAIN_S", "0.5")) * 10)):
            state["step"] = i + 1
            store.put_bytes(str(i + 1).encode(), "progress.txt")
            if os.environ.get("FAKE_METRICS"):
                pipes.report_custom_message({"type": "metric", "timestep": i + 1, "mean_return": 0.0})
            time.sleep(0.1)
        code = int(os.environ.get("FAKE_EXIT", "0"))
        if code:
            print("fake trainer: failing on purpose", file=sys.stderr, flush=True)
            return code
        config = Path(args.config).read_bytes()
        pipes.report_asset_materialization(metadata={"resumed_from": start, "resume_flag": args.resume,
                                                     "run_dir": str(args.run_dir), "cwd": os.getcwd(),
                                                     "config_sha256": hashlib.sha256(config).hexdigest()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
