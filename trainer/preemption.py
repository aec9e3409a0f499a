"""Graceful stop on SIGTERM (a preempted or evicted pod, a cancelled OSMO task) and SIGINT (Ctrl-C, the local
launcher's first signal).

Kubernetes and OSMO stop a task with SIGTERM, wait the grace period (`termination_grace_s`), then SIGKILL. While the
training loop runs, a signal only asks for a stop: the loop finishes the rollout in progress and its PPO update, so
the state is one a checkpoint interval could have written (networks, optimizer, preprocessors, RNG, step counter all
from the same update boundary), `train` writes it through the usual CheckpointWriter (atomic, listed in the manifest,
stored before the manifest), and the CLI closes its Pipes session and exits `128 + signal` (143 for SIGTERM, 130 for
SIGINT). A resume continues from that checkpoint: nothing trained is lost. The wait is one rollout plus one update
(about a second for Cartpole on CPU), well inside any grace period.

Outside the loop (building the env, compiling kernels, loading a checkpoint) there is nothing new to save: the signal
raises `StopRequested` at once, which unwinds like KeyboardInterrupt (atomic writes remove their temp files). A second
signal while a stop is pending does the same, for a caller who will not wait. A SIGKILL at any point leaves the last
listed checkpoint intact: every file is written to a temp file and renamed, the manifest last.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopRequested(BaseException):  # like KeyboardInterrupt: not swallowed by `except Exception`
    """The process was asked to stop by `signum`; `exit_code` is what a shell reports for that signal."""

    def __init__(self, signum: int, checkpoint: str | None = None) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.checkpoint = checkpoint

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class GracefulStop:
    """Signal handlers for one training process: `deferred()` around the loop, `due()` at each update boundary."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._deferring = False
        self._previous: dict[int, object] = {}

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def install(self) -> GracefulStop:
        for sig in SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: object) -> None:
        # No printing here: the handler may run inside a print of the main thread (a re-entrant write raises).
        if self._deferring and self.signum is None:
            self.signum = signum
            return
        raise StopRequested(signum)

    @contextlib.contextmanager
    def deferred(self) -> Iterator[GracefulStop]:
        """While inside, a first signal is only recorded; the loop stops at the next update boundary."""
        self._deferring = True
        try:
            yield self
        finally:
            self._deferring = False

    def due(self) -> bool:
        """At an update boundary: whether to stop now. In a distributed run every rank must call it at the same
        boundary; the ranks agree (any rank signalled stops all), so they stop together and rank 0 checkpoints."""
        from trainer import distributed

        return distributed.any_rank(self.requested)


@contextlib.contextmanager
def graceful_stop() -> Iterator[GracefulStop]:
    """Install the handlers for the block (main thread only), restoring the previous ones after."""
    stop = GracefulStop().install()
    try:
        yield stop
    finally:
        stop.restore()
