"""Will the envs fit, and does the device exist: an estimate checked when a config is validated and again, on the
machine itself, before training builds its environment.

The estimate is a lower bound per env (simulation state plus the PPO rollout buffers), so it refuses only what
cannot fit: validation (no torch, any host) compares it with the largest device of the kind (`LARGEST`), training
with the memory of the device it was given. A wrong device (`cuda:99`, or `cuda` on a machine without a GPU) is
named together with the devices this machine shows, before Isaac Lab or gymnasium is imported.
"""

from __future__ import annotations

import os
from pathlib import Path

# Lower bounds of memory per env beyond the process's fixed cost. Measured (docs/benchmarks.md, "Memory per env"):
# building Isaac Lab Cartpole (Newton, CPU) with 256 and 32768 envs differs by ~18 KB of RSS per env, gymnasium
# InvertedPendulum-v5 with 8 and 256 envs by ~570 KB per env; the bounds stay below both.
PER_ENV_BYTES = {"isaaclab": 16 * 1024, "gymnasium": 256 * 1024}
FLOATS_PER_STEP = 8  # observations, actions, log-prob, value, reward, done flags, returns, advantages: >= 8 floats
LARGEST = {"cpu": 4 * 1024**4, "cuda": 192 * 1024**3}  # a 4 TiB host; the largest single GPU (192 GB class)


class DeviceError(ValueError):
    """The device a run asks for does not exist here or cannot hold its envs; names what this machine shows."""


def bytes_per_env(family: str, rollouts: int) -> int:
    return PER_ENV_BYTES.get(family, max(PER_ENV_BYTES.values())) + rollouts * FLOATS_PER_STEP * 4


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:,.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    raise AssertionError


def num_envs_problem(num_envs: int, device: str, family: str, rollouts: int, *, capacity: int | None = None,
                     holder: str | None = None) -> str | None:
    """Why `num_envs` cannot fit (with the numbers and the allowed maximum), or None."""
    kind = "cuda" if device.startswith("cuda") else "cpu"
    capacity = capacity or LARGEST[kind]
    per_env = bytes_per_env(family, rollouts)
    need = num_envs * per_env
    if need <= capacity:
        return None
    holder = holder or ("any single GPU" if kind == "cuda" else "any single host")
    return (f"{num_envs:,} envs need at least ~{_size(need)} (estimate: {_size(per_env)} per env for the simulation "
            f"state and {rollouts} rollouts of PPO buffers), more than {holder} holds ({_size(capacity)}) "
            f"(allowed: <= {capacity // per_env:,})")


def host_memory() -> int:
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:  # a container's limit, where one is set
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit.isdigit():
            total = min(total, int(limit))
    except OSError:
        pass
    return total


def check_training_device(device: str, num_envs: int, family: str, rollouts: int) -> None:
    """Refuse, before the environment is built, a device this machine lacks or one too small for `num_envs`."""
    if not device.startswith("cuda"):
        capacity, holder = host_memory(), "this machine's memory"
    else:
        import torch

        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        # `cuda` alone is cuda:LOCAL_RANK in a distributed run (trainer/distributed.py), else cuda:0
        index = int(device.partition(":")[2] or os.environ.get("LOCAL_RANK", "0"))
        if index >= count:
            visible = ["cpu", *(f"cuda:{i} ({torch.cuda.get_device_name(i)})" for i in range(count))]
            shown = os.environ.get("CUDA_VISIBLE_DEVICES")
            where = f", CUDA_VISIBLE_DEVICES={shown!r}" if shown is not None else ""
            raise DeviceError(
                f"device: {device!r} does not exist on this machine (visible: {', '.join(visible)}{where}); set "
                f"device (or --device) to one of them"
            )
        capacity = torch.cuda.get_device_properties(index).total_memory
        holder = f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    problem = num_envs_problem(num_envs, device, family, rollouts, capacity=capacity, holder=holder)
    if problem:
        raise DeviceError(f"num_envs: {problem}")
