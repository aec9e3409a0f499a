"""Task configs the tests share (one file each, not inline copies)."""

from pathlib import Path

PENDULUM = Path(__file__).resolve().parent / "pendulum.yaml"
PENDULUM_YAML = PENDULUM.read_text()
