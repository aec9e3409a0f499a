"""Which tasks the trainer knows, and where each one's default skrl agent YAML lives.

Isaac Lab tasks are found by reading the `gym.register(...)` calls in the installed `isaaclab_tasks` sources
instead of importing the package: importing it pulls torch + warp (~6 s), which config validation (and the Dagster
sensor that validates task configs) must not pay. `tests/trainer/test_tasks.py` checks this view against the real
gymnasium registry so the two cannot drift apart silently.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

FAMILIES = ("isaaclab", "gymnasium")
AGENT_ENTRY_POINT = "skrl_cfg_entry_point"
_PACKAGED_AGENTS = Path(__file__).parent / "agents"

# Gymnasium tasks with continuous actions that skrl PPO handles (MuJoCo family + the classic continuous ones).
GYMNASIUM_TASKS = (
    "InvertedPendulum-v5",
    "InvertedDoublePendulum-v5",
    "Hopper-v5",
    "HalfCheetah-v5",
    "Walker2d-v5",
    "Swimmer-v5",
    "Reacher-v5",
    "Ant-v5",
    "Pendulum-v1",
    "MountainCarContinuous-v0",
)


@dataclass(frozen=True)
class TaskRef:
    family: str
    task_id: str
    agent_yaml: Path  # the task's own default skrl agent config

    @property
    def spec(self) -> str:
        return f"{self.family}:{self.task_id}"


def _render_entry_point(node: ast.expr, module: str) -> str | None:
    """Render `f"{agents.__name__}:skrl_ppo_cfg.yaml"` (or a plain string) to `pkg.agents:skrl_ppo_cfg.yaml`."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if not isinstance(node, ast.JoinedStr):
        return None
    parts = []
    for value in node.values:
        if isinstance(value, ast.Constant):
            parts.append(str(value.value))
        elif isinstance(value, ast.FormattedValue):
            expr = value.value
            if isinstance(expr, ast.Name) and expr.id == "__name__":
                parts.append(module)
            elif (
                isinstance(expr, ast.Attribute)
                and expr.attr == "__name__"
                and isinstance(expr.value, ast.Name)
            ):
                parts.append(f"{module}.{expr.value.id}")
            else:
                return None
    return "".join(parts)


def _scan_registrations(root: Path, package: str) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for init in sorted(root.rglob("__init__.py")):
        rel = init.parent.relative_to(root)
        if "test" in rel.parts:
            continue
        module = ".".join((package, *rel.parts))
        try:
            tree = ast.parse(init.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for call in ast.walk(tree):
            if not (isinstance(call, ast.Call) and getattr(call.func, "attr", None) == "register"):
                continue
            kw = {k.arg: k.value for k in call.keywords}
            if not isinstance(kw.get("id"), ast.Constant) or not isinstance(kw.get("kwargs"), ast.Dict):
                continue
            entries = {
                k.value: v
                for k, v in zip(kw["kwargs"].keys, kw["kwargs"].values)
                if isinstance(k, ast.Constant)
            }
            if AGENT_ENTRY_POINT not in entries:
                continue
            entry = _render_entry_point(entries[AGENT_ENTRY_POINT], module)
            if not entry or ":" not in entry or not entry.endswith((".yaml", ".yml")):
                continue
            mod, filename = entry.split(":", 1)
            path = root.joinpath(*mod.split(".")[1:], filename)
            if path.is_file():
                found[kw["id"].value] = path
    return found


@functools.cache
def isaaclab_tasks() -> dict[str, Path]:
    """Isaac Lab task id -> its skrl agent YAML (tasks without a skrl YAML entry point are left out)."""
    spec = importlib.util.find_spec("isaaclab_tasks")
    if spec is None or not spec.submodule_search_locations:
        return {}
    return _scan_registrations(Path(next(iter(spec.submodule_search_locations))), "isaaclab_tasks")


def packaged_agents() -> dict[str, Path]:
    """Agent YAMLs shipped in trainer/agents/, by stem: the only bases a task config may name besides `task`."""
    return {p.stem: p for p in sorted(_PACKAGED_AGENTS.glob("*.yaml"))}


def known_tasks() -> list[str]:
    return sorted(f"isaaclab:{t}" for t in isaaclab_tasks()) + [f"gymnasium:{t}" for t in GYMNASIUM_TASKS]


def lookup(spec: str) -> TaskRef | None:
    """`family:id` -> TaskRef, or None when the task is unknown."""
    family, _, task_id = spec.partition(":")
    if family == "isaaclab":
        path = isaaclab_tasks().get(task_id)
        return TaskRef(family, task_id, path) if path else None
    if family == "gymnasium" and task_id in GYMNASIUM_TASKS:
        return TaskRef(family, task_id, _PACKAGED_AGENTS / "gymnasium_ppo_cfg.yaml")
    return None
