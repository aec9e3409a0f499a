"""Where the embedded default keeps its files: `.data/` at the project root, or `ROBOTICS_DATA_DIR`."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """Read at call time (never import time) so tests and launchers can point it elsewhere."""
    return Path(os.environ.get("ROBOTICS_DATA_DIR") or PROJECT_ROOT / ".data")

