"""What a training returns (`TrainResult`, also train_result.json) and the train asset's metadata made from it."""

from __future__ import annotations

import dataclasses
import json
from typing import Any


@dataclasses.dataclass
class TrainResult:
    run_dir: str
    task: str
    num_envs: int  # per rank
    device: str
    gpu_count: int
    seed: int
    timesteps: int
    start_timestep: int
    env_steps: int
    wall_time_s: float
    train_time_s: float
    env_steps_per_s: float
    final_mean_return: float | None
    final_mean_episode_length: float | None
    best_checkpoint: str
    best_checkpoint_sha256: str
    config_sha256: str
    resumed_from: str | None = None
    warm_started_from: str | None = None
    mlflow_run_id: str | None = None
    mlflow_tracking_uri: str | None = None
    checkpoint_uri: str | None = None
    world_size: int = 1  # processes (ranks) that trained together
    total_envs: int = 0  # num_envs * world_size; env_steps counts them all
    rank_parameters_sha256: list[str] | None = None  # per rank, after training: equal when the ranks stayed in sync
    # the `performance:` switches requested here, observed active on rank 0, and requested but off
    # (trainer/performance.py)
    performance: dict[str, Any] | None = None

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2) + "\n"


def materialization_metadata(result: TrainResult) -> dict[str, Any]:
    """The train asset's metadata (docs/architecture.md)."""
    return {
        "mlflow_run_id": result.mlflow_run_id,
        "mlflow_tracking_uri": result.mlflow_tracking_uri,
        "run_dir": result.run_dir,
        "checkpoint_uri": result.checkpoint_uri,
        "checkpoint_sha256": result.best_checkpoint_sha256,
        "env_steps_per_s": result.env_steps_per_s,
        "wall_time_s": result.wall_time_s,
        "train_time_s": result.train_time_s,
        "timesteps": result.timesteps,
        "num_envs": result.num_envs,
        "world_size": result.world_size,
        "total_envs": result.total_envs,
        "device": result.device,
        "gpu_count": result.gpu_count,
        "final_mean_return": result.final_mean_return,
        "final_mean_episode_length": result.final_mean_episode_length,
        # Pipes takes a dict value only in its typed form
        **({"performance_active": {"raw_value": result.performance["active"], "type": "json"},
            "performance_off": {"raw_value": result.performance["off"], "type": "json"}} if result.performance else {}),
    }
