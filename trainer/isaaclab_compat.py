"""Make Isaac Lab importable next to Dagster in one environment.

Isaac Lab imports hydra, whose grammar was generated for the ANTLR 4.9 runtime; Dagster 1.13's asset-selection
grammar needs ANTLR 4.13 (`dagster asset materialize --select`, string targets). One venv cannot hold both, so
scripts/setup.sh installs 4.13 into the venv and 4.9.3 into `<venv>/hydra-antlr`, and the trainer, which never
imports dagster, puts that folder first on sys.path before it imports Isaac Lab. A trainer image without Dagster
(docker/Dockerfile) keeps plain 4.9.3 and needs no folder.
"""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

from trainer.kernel_cache import configure as configure_kernel_cache

HYDRA_ANTLR = "4.9"


def prepare_isaaclab_import(device: str) -> None:
    """Call before the first `import isaaclab*`: the device's Warp kernel cache folder + hydra's ANTLR runtime."""
    configure_kernel_cache(device)  # importing Isaac Lab initialises Warp, which would otherwise cache into ~/.cache
    try:
        installed = metadata.version("antlr4-python3-runtime")
    except metadata.PackageNotFoundError:
        installed = ""
    if installed.startswith(HYDRA_ANTLR):
        return
    side = Path(sys.prefix) / "hydra-antlr"
    if not side.is_dir():
        return  # let hydra report its own error: nothing better to offer here
    if "antlr4" in sys.modules and not str(getattr(sys.modules["antlr4"], "__file__", "")).startswith(str(side)):
        raise RuntimeError(
            f"antlr4 {installed} is already imported (by Dagster?) and Isaac Lab's hydra needs {HYDRA_ANTLR}: "
            "run the trainer in its own process (python -m trainer ...)"
        )
    if str(side) not in sys.path:
        sys.path.insert(0, str(side))
