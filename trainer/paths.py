"""Where the embedded default keeps its files: `.data/` at the project root, or `ROBOTICS_DATA_DIR`."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """Read at call time (never import time) so tests and launchers can point it elsewhere."""
    return Path(os.environ.get("ROBOTICS_DATA_DIR") or PROJECT_ROOT / ".data")


def ensure_warp_cache() -> str:
    """Keep Warp's compiled kernels between runs (first compile ~30 s on CPU, minutes on GPU)."""
    path = os.environ.setdefault("WARP_CACHE_PATH", str(data_dir() / "warp_cache"))
    Path(path).mkdir(parents=True, exist_ok=True)
    return path
