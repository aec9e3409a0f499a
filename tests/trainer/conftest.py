"""Fixtures for the trainer tests: `trained_cartpole` (one real CPU training per session, see cartpole_run.py)."""

from tests.trainer.cartpole_run import trained_cartpole  # noqa: F401
