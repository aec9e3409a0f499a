"""A private scratch "container" for one stand-in pod or OSMO task. Test support, not a container runtime.

What a real pod or task gets is its image and its spec, nothing of the machine that submitted it. The stand-ins run
the spec's command as a local process, so this is where that promise is kept:
- the process's cwd, HOME and TMPDIR are inside a fresh folder of its own (`root`), removed when it ends;
- every absolute path in the spec's command, args and environment is re-rooted into `root` (the container's own
  filesystem: `--run-dir /tmp/pytest-x/run` writes `root/tmp/pytest-x/run`, which dies with the pod), `file://`
  URIs too, so the test's disk is out of reach whatever the spec says;
- the process environment is the image's (an allow-list of the stand-in's `base_env`: interpreter and locale) plus
  the spec's own variables; nothing else of the test process leaks in;
- Pipes parameters that name a file on the submitting machine (`PipesTempFileContextInjector` and friends) are
  refused: no pod can read them.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import tempfile
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path

# What the trainer image defines; everything else must come from the spec.
IMAGE_ENV = ("PATH", "PYTHONPATH", "VIRTUAL_ENV", "LANG", "LC_ALL", "LC_CTYPE", "PYTHONDONTWRITEBYTECODE",
             "OMP_NUM_THREADS")
_ABSOLUTE = re.compile(r"(?<![\w.:/-])(/(?!/)[^\s'\"=:;,]*)")
_FILE_URI = re.compile(r"file://(/[^\s'\"]*)")


class SpecRefused(ValueError):
    """The spec asks for something no pod could have (a path on the submitting machine)."""


class Sandbox:
    def __init__(self, parent: str | Path | None, name: str, *, keep_prefixes: Iterable[str] = ()):
        base = Path(parent) if parent else Path(tempfile.gettempdir())
        base.mkdir(parents=True, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=base))
        # paths that ARE the image (its interpreter, its installed packages) stay as they are
        self.keep = tuple(p for p in keep_prefixes if p)
        for folder in ("tmp", "home"):
            (self.root / folder).mkdir()

    @property
    def cwd(self) -> Path:
        return self.root / "tmp"

    def path(self, container_path: str) -> Path:
        return self.root / container_path.lstrip("/")

    def reroot(self, text: str) -> str:
        """`text` with every absolute path (and file:// URI) mapped into this container's filesystem."""
        text = _FILE_URI.sub(lambda m: "file://" + self._map(m.group(1)), text)
        return _ABSOLUTE.sub(lambda m: self._map(m.group(1)), text)

    def _map(self, path: str) -> str:
        if path.startswith(str(self.root)) or any(path == k or path.startswith(k.rstrip("/") + "/")
                                                  for k in self.keep):
            return path
        return str(self.root) + path

    def env(self, base_env: Mapping[str, str], spec_env: Mapping[str, str]) -> dict[str, str]:
        env = {k: v for k, v in base_env.items() if k in IMAGE_ENV}
        for key, value in spec_env.items():
            if key.startswith("DAGSTER_PIPES_"):
                check_pipes_param(key, value)
                env[key] = value
            else:
                env[key] = self.reroot(str(value))
        env.setdefault("HOME", str(self.root / "home"))
        env.setdefault("TMPDIR", str(self.root / "tmp"))
        return env

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def check_pipes_param(key: str, value: str) -> None:
    """Pipes bootstrap params are base64(zlib(json)); a `path` in them is a file on the orchestrator's disk."""
    try:
        params = json.loads(zlib.decompress(base64.b64decode(value)))
    except (ValueError, zlib.error):
        return
    if isinstance(params, dict) and "path" in params:
        raise SpecRefused(f"{key} names a file on the submitting machine ({params['path']}); a pod or task cannot "
                          "read it: use a Pipes transport that crosses machines (env context + pod logs, or Blob)")


def image_prefixes() -> list[str]:
    """The interpreter's installation: what the trainer image contains (the project comes in via PYTHONPATH)."""
    import sys

    return sorted({sys.prefix, sys.base_prefix, os.path.dirname(sys.executable),
                   os.path.dirname(os.path.realpath(sys.executable))})
