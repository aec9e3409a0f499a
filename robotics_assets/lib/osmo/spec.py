"""Render an OSMO workflow spec (the YAML an OSMO user writes) for one trainer step.

Follows the OSMO workflow specification (docs/user_guide/workflows/specification in NVIDIA/OSMO): one task with
`image`, `command`/`args`, `environment`, inline `files`, a named `resources` entry (gpu/cpu/memory/storage),
`credentials` by reference (name -> {ENV_VAR: key}), `url:` outputs (the `dataset:` form is gone since 6.4),
`timeout.exec_timeout`/`queue_timeout`, and workflow `labels` in Kubernetes label syntax.

Two things of the service shape the text itself:
- The service renders the submitted file with Jinja before parsing it (NVIDIA/OSMO `src/utils/job/workflow.py`,
  `sandboxed_jinja_substitute`), so a `{{`, `{%` or `{#` anywhere in it (a task config's description, an env value)
  would be evaluated or dropped. `render_workflow` escapes every such sequence as a Jinja string literal, so the
  rendered text is exactly the YAML we dumped.
- A pool may reschedule a task IN PLACE by its exit code (`default_exit_actions`, up to `max_retry_per_task`; task
  `exitActions` win, `src/utils/job/jobs.py::_apply_exit_action`). In place means the same spec: the same args
  (no `--resume`) and the same Pipes session, whose chunk counter would restart and overwrite what Dagster already
  read. `EXIT_ACTIONS` therefore maps every exit code to COMPLETE (0) or FAIL; the launcher decides on a restart
  from the status and exit code (3001 backend error, 3004 evicted, 3006 preempted: docs/user_guide/workflows/
  exit_codes.rst) and starts a new workflow with `--resume`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import yaml

_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
_NAME = re.compile(r"[^a-z0-9-]+")
MAX_LABELS = 16  # OSMO's limit per workflow
_JINJA_OPEN = re.compile(r"\{[{%#]")
# Task exit actions: the task's own map wins over the pool's defaults; nothing is RESCHEDULEd in place.
EXIT_ACTIONS = {"COMPLETE": "0", "FAIL": "1-65535"}


def escape_jinja(text: str) -> str:
    """Make `text` render to itself under Jinja: each `{{` / `{%` / `{#` becomes a string-literal expression."""
    return _JINJA_OPEN.sub(lambda m: "{{ '" + m.group(0) + "' }}", text)


def label_value(value: str) -> str:
    """A Kubernetes-label-safe, deterministic form of `value` (kept as is when already valid).

    Asset keys (`training/policy`) and multi-partition keys (`eastus|cartpole`) are not valid label values;
    they are sanitized and suffixed with a short hash of the original so two different keys never collide.
    """
    if len(value) <= 63 and _LABEL_VALUE.match(value) and value:
        return value
    digest = hashlib.sha256(value.encode()).hexdigest()[:10]
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", value).strip("-_.")[:50].strip("-_.")
    return f"{cleaned}-{digest}" if cleaned else digest


def workflow_name(*parts: str) -> str:
    """OSMO workflow name from parts (lowercase, dashes; OSMO appends its own `-<n>` id suffix)."""
    name = _NAME.sub("-", "-".join(parts).lower()).strip("-")
    return name[:48].strip("-") or "workflow"


def format_timeout(seconds: float) -> str:
    """OSMO timeouts take one integer and one unit (`8h`, not `7h30m`): pick the largest exact unit."""
    s = int(seconds)
    if s <= 0:
        raise ValueError(f"timeout: {seconds} must be > 0 seconds")
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s % size == 0:
            return f"{s // size}{unit}"
    return f"{s}s"


@dataclass(frozen=True)
class Resources:
    """One OSMO resource spec; memory/storage in Kubernetes quantity form (`32Gi`)."""

    gpu: int = 0
    cpu: int = 4
    memory: str = "32Gi"
    storage: str = "50Gi"
    platform: str | None = None

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"cpu": self.cpu, "gpu": self.gpu, "memory": self.memory, "storage": self.storage}
        if self.platform:
            out["platform"] = self.platform
        return out


@dataclass(frozen=True)
class WorkflowSpec:
    """Inputs of `render_workflow`; everything comes from the task, the region settings and the Pipes session."""

    name: str
    image: str
    command: Sequence[str]
    args: Sequence[str] = ()
    environment: Mapping[str, str] = field(default_factory=dict)
    files: Mapping[str, str] = field(default_factory=dict)  # container path -> contents
    resources: Resources = field(default_factory=Resources)
    credentials: Mapping[str, Mapping[str, str] | str] = field(default_factory=dict)
    outputs: Sequence[str] = ()  # url: destinations for the task's {{output}} folder
    exec_timeout_s: float = 24 * 3600
    queue_timeout_s: float = 2 * 3600
    labels: Mapping[str, str] = field(default_factory=dict)
    task_name: str = "trainer"


def render_workflow(spec: WorkflowSpec) -> str:
    """The workflow YAML (a mapping under `workflow:`), ready for `OsmoClient.submit`."""
    if not spec.image:
        raise ValueError("workflow image: empty (set container_registry.trainer_image in the region settings)")
    if not spec.command:
        raise ValueError("workflow command: empty")
    if len(spec.labels) > MAX_LABELS:
        raise ValueError(f"workflow labels: {len(spec.labels)} given, OSMO allows at most {MAX_LABELS}")
    for key, value in spec.labels.items():
        if label_value(value) != value:
            raise ValueError(f"workflow labels.{key}: {value!r} is not a valid label value (use label_value())")
    for url in spec.outputs:
        if "://" not in url:
            raise ValueError(f"workflow outputs: {url!r} is not a URL (e.g. azure://account/container/path)")
    task: dict[str, object] = {
        "name": spec.task_name,
        "image": spec.image,
        "command": list(spec.command),
        "args": [str(a) for a in spec.args],
        "resource": "trainer",
        "exitActions": dict(EXIT_ACTIONS),
    }
    if spec.environment:
        task["environment"] = {k: str(v) for k, v in sorted(spec.environment.items())}
    if spec.credentials:
        task["credentials"] = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in spec.credentials.items()}
    if spec.files:
        task["files"] = [{"path": path, "contents": contents} for path, contents in spec.files.items()]
    if spec.outputs:
        task["outputs"] = [{"url": url} for url in spec.outputs]
    workflow: dict[str, object] = {
        "name": spec.name,
        "labels": dict(spec.labels),
        "timeout": {"exec_timeout": format_timeout(spec.exec_timeout_s),
                    "queue_timeout": format_timeout(spec.queue_timeout_s)},
        "resources": {"trainer": spec.resources.as_dict()},
        "tasks": [task],
    }
    if not spec.labels:
        del workflow["labels"]
    return escape_jinja(yaml.safe_dump({"workflow": workflow}, sort_keys=False, width=120))
