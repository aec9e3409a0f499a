"""One training on N processes of one node: the torchrun relaunch, the process group and skrl's distributed switches.

How a run becomes N ranks: `python -m trainer train` with `gpus: N > 1` and `device: cuda` (or `--nproc-per-node N`,
which also runs N ranks on CPU, for tests and debugging) re-runs its own command line under torchrun's launcher
(`torch.distributed.run`, standalone, one node, no elastic restarts): one process per rank, each with
- device `cuda:LOCAL_RANK` (CPU ranks share the CPU), its own `num_envs` environments (`num_envs` is PER RANK:
  the run steps `num_envs * world_size` environments), seed `seed + rank` for its environments and generators;
- skrl's distributed PPO: parameters broadcast from rank 0 when the agent is built, gradients (and the KL of the
  adaptive learning rate) averaged over the ranks on every optimizer step, so every rank holds the same networks.
  Observation/value normalizers keep per-rank statistics (skrl's behaviour); checkpoints carry rank 0's.
Rank 0 alone writes the run directory, MLflow, Pipes messages and console progress.

skrl reads LOCAL_RANK/RANK/WORLD_SIZE when it is imported and then calls `init_process_group("nccl")` itself, which
cannot work on CPU and leaves no say over the backend or the timeouts. So `process_group()` initialises the group
itself (NCCL with NVLink multicast off on CUDA, gloo on CPU; a timeout on every collective), imports skrl with
WORLD_SIZE hidden and then sets skrl's config by hand. A rank that dies makes torchrun's agent stop the others; a rank
whose parent agent dies is killed too (PR_SET_PDEATHSIG), and a collective that waits for a lost peer times out.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import hashlib
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from typing import Any

TIMEOUT_ENV = "TRAINER_DIST_TIMEOUT_S"
# Generous: the first collective (skrl's parameter broadcast) waits for every rank's environment, and a cold Warp
# cache compiles kernels for minutes on a GPU.
DEFAULT_TIMEOUT_S = 1800.0
EXIT_BAD_INPUT = 2
STOPPED_BY_SIGNAL = (128 + signal.SIGTERM, 128 + signal.SIGINT)  # trainer/preemption.py's exit codes


@dataclasses.dataclass(frozen=True)
class Rank:
    """Where this process stands in the run (torchrun's RANK / LOCAL_RANK / WORLD_SIZE; defaults: a lone process)."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the only process that writes the run directory, MLflow, Pipes messages and console progress."""
        return self.rank == 0

    def device(self, configured: str) -> str:
        """This rank's torch device: `cuda` becomes `cuda:LOCAL_RANK` in a distributed run."""
        if self.is_distributed and configured.startswith("cuda"):
            return f"cuda:{self.local_rank}"
        return configured


_current = Rank()


def current() -> Rank:
    """The rank `process_group()` joined (a lone process outside it)."""
    return _current


def from_env(environ: dict[str, str] | os._Environ = os.environ) -> Rank:
    """The rank torchrun gave this process, from its environment variables."""
    return Rank(
        rank=int(environ.get("RANK", "0")),
        local_rank=int(environ.get("LOCAL_RANK", "0")),
        world_size=int(environ.get("WORLD_SIZE", "1")),
    )


class DistributedConfigError(ValueError):
    """A multi-process request this machine cannot honour (bad input: exit code 2)."""


def requested_world_size(device: str, gpus: int, nproc_per_node: int | None) -> int:
    """How many ranks a run asks for: `--nproc-per-node` if given, else the task's `gpus` on CUDA, else 1."""
    if nproc_per_node is not None:
        if nproc_per_node < 1:
            raise DistributedConfigError(f"--nproc-per-node: {nproc_per_node} must be >= 1")
        return nproc_per_node
    return gpus if device.startswith("cuda") else 1


def check_devices(device: str, world_size: int) -> None:
    """Fail early, before any rank starts, when this machine shows fewer GPUs than the run asks for."""
    if not device.startswith("cuda") or world_size <= 1:
        return
    import torch

    visible = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if visible < world_size:
        shown = os.environ.get("CUDA_VISIBLE_DEVICES")
        where = f" (CUDA_VISIBLE_DEVICES={shown!r})" if shown is not None else ""
        raise DistributedConfigError(
            f"gpus: the run asks for {world_size} GPUs (one process each) but this machine shows {visible}{where}; "
            f"lower gpus in the task config (or --nproc-per-node), or run on a node with {world_size} GPUs"
        )


def torchrun_args(nproc_per_node: int, argv: Sequence[str]) -> list[str]:
    """torchrun's command line for `python -m trainer <argv>` on one node (what `launch` runs, for the logs)."""
    return ["--standalone", f"--nproc-per-node={nproc_per_node}", "--max-restarts=0", "-m", "trainer", *argv]


def launch(nproc_per_node: int, argv: Sequence[str]) -> int:
    """Run `python -m trainer <argv>` as `nproc_per_node` ranks under torchrun; returns the CLI's exit code.

    torchrun's own CLI exits 1 for any failed rank; calling its launcher here keeps the ranks' codes, so the
    contract holds: 2 when a rank rejected its input, 1 for any other failure, 0 when every rank finished.
    """
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import elastic_launch
    from torch.distributed.run import config_from_args, parse_args

    os.environ["NCCL_NVLS_ENABLE"] = "0"  # NVLink multicast off (the lent multi-GPU machines require it)
    args = torchrun_args(nproc_per_node, argv)
    config, cmd, cmd_args = config_from_args(parse_args(args))
    print(f"[trainer] starting {nproc_per_node} ranks: torchrun {' '.join(args)}", flush=True)
    try:
        elastic_launch(config, cmd)(*cmd_args)
    except ChildFailedError as exc:
        codes = sorted({failure.exitcode for failure in exc.failures.values()})
        stopped = [code for code in codes if code in STOPPED_BY_SIGNAL]
        # the ranks stopped together on a signal after rank 0 stored the checkpoint; a rank still exiting when
        # torchrun saw the first one go was terminated by torchrun (a negative code: killed by that signal)
        if stopped and all(code in STOPPED_BY_SIGNAL or code < 0 for code in codes):
            print(f"[trainer] ranks stopped on a signal (exit code {stopped[0]})", file=sys.stderr)
            return stopped[0]
        print(f"[trainer] error: rank(s) {sorted(exc.failures)} failed with exit code(s) {codes}", file=sys.stderr)
        return EXIT_BAD_INPUT if EXIT_BAD_INPUT in codes else 1
    except SignalException as exc:  # SIGTERM/SIGINT to this process: torchrun has stopped the ranks
        print(f"[trainer] stopped by signal {exc.sigval.name}; ranks terminated", file=sys.stderr)
        return 128 + int(exc.sigval)
    return 0


def _die_with_parent() -> None:
    """Linux: SIGKILL this rank when its torchrun agent dies (SIGKILL of the launcher must not orphan ranks)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    PR_SET_PDEATHSIG = 1
    with contextlib.suppress(OSError, AttributeError):  # no ppid check after it: in a container the agent is PID 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _configure_skrl(rank: Rank, device: str) -> None:
    """Import skrl without letting it start its own NCCL group, then tell its config what we started."""
    if "skrl" not in sys.modules:
        hidden = os.environ.pop("WORLD_SIZE", None)
        try:
            import skrl  # noqa: F401
        finally:
            if hidden is not None:
                os.environ["WORLD_SIZE"] = hidden
    from skrl import config

    torch_cfg = config.torch
    torch_cfg._rank, torch_cfg._local_rank, torch_cfg._world_size = rank.rank, rank.local_rank, rank.world_size
    torch_cfg._is_distributed = rank.is_distributed
    torch_cfg._device = device


@contextlib.contextmanager
def process_group(device: str) -> Iterator[Rank]:
    """Join torchrun's process group for this rank's lifetime (a no-op for a lone process); yields the Rank.

    CUDA ranks use NCCL on `cuda:LOCAL_RANK` with `NCCL_NVLS_ENABLE=0`; CPU ranks use gloo. Every collective times
    out after `TRAINER_DIST_TIMEOUT_S` (default 1800 s) instead of waiting forever for a lost peer.
    """
    global _current
    rank = from_env()
    if not rank.is_distributed:
        yield rank
        return
    import torch
    import torch.distributed as dist

    _die_with_parent()
    timeout = datetime.timedelta(seconds=float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT_S)))
    cuda = device.startswith("cuda")
    rank_device = rank.device(device)
    if cuda:
        os.environ["NCCL_NVLS_ENABLE"] = "0"
        torch.cuda.set_device(rank.local_rank)
        dist.init_process_group("nccl", rank=rank.rank, world_size=rank.world_size, timeout=timeout,
                                device_id=torch.device(rank_device))
    else:
        dist.init_process_group("gloo", rank=rank.rank, world_size=rank.world_size, timeout=timeout)
    _configure_skrl(rank, rank_device)
    _current = rank
    try:
        yield rank
    finally:
        _current = Rank()
        with contextlib.suppress(Exception):  # a peer already gone must not mask the real error
            dist.destroy_process_group()


def barrier() -> None:
    """Wait for every rank (no-op for a lone process)."""
    if current().is_distributed:
        import torch.distributed as dist

        dist.barrier()


def broadcast_object(obj: Any) -> Any:
    """Rank 0's `obj` on every rank (no-op for a lone process)."""
    if not current().is_distributed:
        return obj
    import torch.distributed as dist

    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def any_rank(flag: bool) -> bool:
    """Whether `flag` is true on any rank (a collective: every rank calls it at the same point; a lone process just
    returns it)."""
    if not current().is_distributed:
        return flag
    import torch
    import torch.distributed as dist

    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")
    box = torch.tensor([int(flag)], device=device)
    dist.all_reduce(box, op=dist.ReduceOp.MAX)
    return bool(box.item())


def parameters_sha256(modules: dict[str, Any]) -> str:
    """sha256 of the named modules' state (names, dtypes, shapes, bytes), independent of the device."""
    import torch

    digest = hashlib.sha256()
    for name in sorted(modules):
        for key, tensor in sorted(modules[name].state_dict().items()):
            data = tensor.detach().cpu().contiguous()
            digest.update(f"{name}.{key}:{data.dtype}:{tuple(data.shape)}".encode())
            digest.update(data.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def gather_object(obj: Any) -> list[Any]:
    """Every rank's `obj`, in rank order, on every rank (`[obj]` for a lone process)."""
    if not current().is_distributed:
        return [obj]
    import torch.distributed as dist

    out: list[Any] = [None] * current().world_size
    dist.all_gather_object(out, obj)
    return out
