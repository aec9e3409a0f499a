"""Training progress lines (env-steps/s, mean return, episode length, ETA) for the console and the Dagster run log.

Rate-limited separately: the console every few seconds, Dagster less often (each line is an event in its run log).
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from trainer.pipes import PipesSession


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    def __init__(
        self,
        *,
        total_timesteps: int,
        start_timestep: int,
        num_envs: int,
        pipes: PipesSession | None = None,
        console: TextIO | None = sys.stdout,
        console_every_s: float = 5.0,
        pipes_every_s: float = 15.0,
    ) -> None:
        self.total = total_timesteps
        self.start = start_timestep
        self.num_envs = num_envs
        self.pipes = pipes
        self.console = console
        self.console_every_s = console_every_s
        self.pipes_every_s = pipes_every_s
        self.t0 = time.monotonic()
        self._last_console = self._last_pipes = -float("inf")
        self._last_metric_step = -1
        self.last_line = ""

    def env_steps_per_s(self, timestep: int) -> float:
        elapsed = time.monotonic() - self.t0
        return (timestep - self.start) * self.num_envs / elapsed if elapsed > 0 else 0.0

    def line(self, timestep: int, mean_return: float | None, mean_length: float | None) -> str:
        elapsed = time.monotonic() - self.t0
        done = timestep - self.start
        rate = self.env_steps_per_s(timestep)
        eta = (self.total - timestep) * elapsed / done if done > 0 else float("nan")
        ret = f"{mean_return:.3f}" if mean_return is not None else "n/a"
        length = f"{mean_length:.1f}" if mean_length is not None else "n/a"
        pct = 100.0 * timestep / self.total
        return (
            f"step {timestep}/{self.total} ({pct:.0f}%) | {rate:,.0f} env-steps/s | mean return {ret} | "
            f"episode length {length} | elapsed {_duration(elapsed)} | ETA {_duration(eta) if done else 'n/a'}"
        )

    def update(self, timestep: int, mean_return: float | None, mean_length: float | None, *, force: bool = False) -> None:
        if self.pipes is not None and self.pipes.active and timestep > self._last_metric_step:
            # every point (one per skrl write interval), not rate-limited: the orchestrator's early stopping reads it
            self.pipes.report_metric(timestep, mean_return=mean_return, mean_episode_length=mean_length)
            self._last_metric_step = timestep
        now = time.monotonic()
        due_console = self.console is not None and (force or now - self._last_console >= self.console_every_s)
        due_pipes = self.pipes is not None and self.pipes.active and (force or now - self._last_pipes >= self.pipes_every_s)
        if not (due_console or due_pipes):
            return
        self.last_line = self.line(timestep, mean_return, mean_length)
        if due_console:
            print(f"[trainer] {self.last_line}", file=self.console, flush=True)
            self._last_console = now
        if due_pipes:
            self.pipes.log(self.last_line)
            self._last_pipes = now
