"""Shared test set-up: real backing services (Azurite, MLflow server, PostgreSQL) as session fixtures, and the rule
that keeps the suite right on pytest-xdist workers (scripts/test.sh runs it with `-n 2 --dist loadgroup`).

Each worker is a pytest session of its own, so a session or module fixture is built once per worker that runs one
of its tests. That is what the services below want (each worker starts its own, on free ports, in its own temporary
folders). Any other shared fixture defined under tests/ (a training, a Terraform apply, a download into `.data/`)
must be built once: every test that uses it carries the same `pytest.mark.xdist_group(name=...)`, and loadgroup
sends a group to one worker. A test that breaks the rule fails the collection, with or without xdist.
"""

from __future__ import annotations

import collections

import pytest

pytest_plugins = ["tests.services"]

# Shared fixtures each worker builds for itself: isolated services and cheap, read-only preparations.
PER_WORKER = frozenset({
    "azurite", "mlflow_server", "postgres",  # tests/services.py: free ports, per-session temp folders
    "mlflow_db",  # a sqlite file under the worker's own tmp_path_factory
    "shared_warp_cache",  # Warp renames each built module into place: concurrent writers are safe
    "terraform", "infra_copy", "modules",  # a CLI config file, a copy of infra_tf, parsed HCL
})


def _group(item: pytest.Item) -> str | None:
    mark = item.get_closest_marker("xdist_group")
    if mark is None:
        return None
    return mark.kwargs.get("name", mark.args[0] if mark.args else None)


@pytest.hookimpl(trylast=True)  # after pytest-xdist's own attempt (see _name_groups)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _check_groups(items)
    if getattr(config.option, "loadgroup", False):  # a pytest-xdist worker of `--dist loadgroup`
        _name_groups(items)
        # Long real trainings first (every worker sorts alike, so their collections stay identical): loadgroup hands
        # out groups by size, then single tests in this order, and no worker is left with one at the end.
        items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def _name_groups(items: list[pytest.Item]) -> None:
    """Give each grouped test the `<nodeid>@<group>` id that loadgroup schedules by.

    pytest-xdist 3.8.0 appends the group to `item._nodeid`, which pytest 9.2's structured node ids no longer read:
    `--dist loadgroup` then silently spreads a group over the workers (pytest-dev/pytest-xdist#1386; the fix
    proposed in #1388 sets the structured id instead, as here). Skipped where xdist already did it.
    """
    from _pytest.nodeid import NodeId

    for item in items:
        group = _group(item)
        if group is not None and not item.nodeid.endswith(f"@{group}"):
            item._id = NodeId.parse(f"{item.nodeid}@{group}")


def _check_groups(items: list[pytest.Item]) -> None:
    users: dict[tuple[str, str], dict[str | None, list[str]]] = collections.defaultdict(
        lambda: collections.defaultdict(list))
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        for name, defs in (info.name2fixturedefs.items() if info is not None else ()):
            fixture = defs[-1]
            module = getattr(fixture.func, "__module__", "") or ""
            if fixture.scope == "function" or not module.startswith("tests.") or name in PER_WORKER:
                continue
            users[(name, module)][_group(item)].append(item.nodeid)
    problems = []
    for (name, module), by_group in sorted(users.items()):
        if len(by_group) > 1 or None in by_group:
            shown = "; ".join(f"{group or 'no group'}: {', '.join(ids[:3])}{' ...' if len(ids) > 3 else ''}"
                              for group, ids in by_group.items())
            problems.append(f"{module}.{name} ({shown})")
    if problems:
        raise pytest.UsageError(
            "shared fixtures must be built once: give every test that uses one the same "
            "pytest.mark.xdist_group(name=...) (see tests/conftest.py), or list a per-worker fixture in PER_WORKER:\n  "
            + "\n  ".join(problems))
