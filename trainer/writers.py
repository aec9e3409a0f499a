"""What a training writes while it runs, hung on skrl's two hooks around the loop (trainer/loop.py).

- `CheckpointWriter` replaces skrl's `write_checkpoint`: same files, but atomic and listed in the manifest with
  their sha256, each stored before the manifest that lists it;
- `MetricsWriter` wraps skrl's `write_tracking_data`: one metrics.jsonl line, MLflow metrics and progress per write.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from trainer import checkpoints
from trainer.files import atomic_write_text
from trainer.run_dir import METRICS
from trainer.run_tracking import record_run_id
from trainer.storage.run_location import RunLocation

RETURN_TAG = "Reward / Total reward (mean)"
LENGTH_TAG = "Episode / Total timesteps (mean)"


class CheckpointWriter:
    """Replaces skrl's `write_checkpoint`: same files, but atomic and recorded in the manifest with sha256.

    Each checkpoint goes to the run's store before the manifest that lists it (`RunLocation.put` keeps the order).
    """

    def __init__(self, agent: Any, location: RunLocation, manifest: dict[str, Any], tracker: Any | None) -> None:
        self.agent, self.location, self.manifest, self.tracker = agent, location, manifest, tracker
        self.run_dir = location.local_dir

    def _modules(self, source: dict[str, Any]) -> dict[str, Any]:
        return {name: self.agent._get_internal_value(module) for name, module in source.items()}

    def __call__(self, *, timestep: int, timesteps: int) -> None:
        agent = self.agent
        path = checkpoints.checkpoint_path(self.run_dir, f"agent_{timestep}.pt")
        checkpoints.atomic_torch_save(self._modules(agent.checkpoint_modules), path)
        written = [f"{checkpoints.CHECKPOINT_DIR}/{path.name}"]
        best = agent.checkpoint_best_modules
        if best["modules"] and not best["saved"]:
            # skrl deep-copied every module (training_state included) when this became the best
            best_modules = {n: best["modules"][n] for n in agent.checkpoint_modules if n in best["modules"]}
            best_path = checkpoints.checkpoint_path(self.run_dir, checkpoints.BEST)
            checkpoints.atomic_torch_save(best_modules, best_path)
            best["saved"] = True
            checkpoints.record_checkpoint(self.run_dir, self.manifest, best_path, best["timestep"])
            written.append(f"{checkpoints.CHECKPOINT_DIR}/{checkpoints.BEST}")
            if self.tracker is not None:
                self.tracker.log_artifact(best_path, "checkpoints")
        self.manifest["timesteps_done"] = int(timestep)
        # the MLflow run was not ready when training started (a slow store): record it with the first checkpoint
        # written after it exists, so a resume after a kill continues that run instead of opening a second one
        if self.tracker is not None and not self.manifest.get("mlflow_run_id"):
            record_run_id(self.manifest, self.tracker, timeout=0)
        checkpoints.record_checkpoint(self.run_dir, self.manifest, path, timestep)
        self.location.put(*written, METRICS, checkpoints.MANIFEST)
        if self.tracker is not None:
            self.tracker.log_artifact(path, "checkpoints")
            self.tracker.log_artifact(self.run_dir / checkpoints.MANIFEST)


class MetricsWriter:
    """Wraps skrl's `write_tracking_data` (its hook point in 2.x): metrics.jsonl, MLflow and progress, then skrl's."""

    def __init__(self, agent: Any, num_envs: int, path: Path, tracker: Any | None, progress: Any, t0: float) -> None:
        self.agent, self.num_envs, self.path, self.tracker, self.progress, self.t0 = (
            agent, num_envs, path, tracker, progress, t0,
        )
        self.original = agent.write_tracking_data
        self.last: dict[str, float] = {}
        self.fh = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed by close()

    def __call__(self, *, timestep: int, timesteps: int) -> None:
        from trainer.tracking import aggregate, metric_name

        values = aggregate(self.agent.tracking_data)
        if RETURN_TAG in values:
            self.last["return"] = values[RETURN_TAG]
        if LENGTH_TAG in values:
            self.last["length"] = values[LENGTH_TAG]
        env_steps = int(timestep) * self.num_envs
        rate = self.progress.env_steps_per_s(timestep)
        named = {metric_name(k): v for k, v in values.items()}
        named["Stats/env_steps_per_s"] = rate
        record = {"timestep": int(timestep), "env_steps": env_steps, "wall_s": round(time.monotonic() - self.t0, 3)}
        record.update({k: (v if math.isfinite(v) else None) for k, v in named.items()})
        self.fh.write(json.dumps(record) + "\n")
        self.fh.flush()
        if self.tracker is not None:
            self.tracker.log_metrics(named, step=env_steps)
        self.progress.update(timestep, self.last.get("return"), self.last.get("length"))
        self.original(timestep=timestep, timesteps=timesteps)  # TensorBoard + clears skrl's buffers

    def close(self) -> None:
        self.fh.close()


def truncate_metrics(path: Path, upto_timestep: int) -> None:
    """Drop metrics written after the checkpoint we resume from, so the curve has no duplicate or orphan points."""
    if not path.is_file():
        return
    kept = [
        line
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and json.loads(line)["timestep"] <= upto_timestep
    ]
    atomic_write_text(path, "".join(f"{line}\n" for line in kept))


def last_values(path: Path, names: tuple[str, ...]) -> dict[str, float]:
    """Latest logged value of each metric (a resumed run's curve spans both processes)."""
    found: dict[str, float] = {}
    if path.is_file():
        for line in reversed(path.read_text(encoding="utf-8").splitlines()):
            record = json.loads(line) if line.strip() else {}
            for name in names:
                if name not in found and record.get(name) is not None:
                    found[name] = record[name]
            if len(found) == len(names):
                break
    return found
