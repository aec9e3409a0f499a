"""YAML as plain data: no anchors or aliases, no duplicate keys, a size cap.

Task configs arrive from a location several teams write to, and the sensor parses each one on the Dagster host.
Aliases let 600 bytes expand into gigabytes (a "billion laughs" bomb) and a repeated key silently replaces the
first (a second `task:` would change the task), so both are refused, like files over `MAX_BYTES`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

MAX_BYTES = 256 * 1024  # task configs and agent YAMLs are a few KB; Isaac Lab's largest agent YAML is ~3 KB


class YAMLDataError(ValueError):
    """The text is not plain YAML data; the message starts with `<yaml>:` or `<file>:` and says where."""


_CLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _DataLoader(_CLoader):  # type: ignore[misc, valid-type]  - libyaml parses; the mapping check is Python
    def construct_mapping(self, node, deep=False):
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                mark = key_node.start_mark
                raise YAMLDataError(f"<yaml>: line {mark.line + 1}: merge keys (<<) are not accepted")
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.setdefault(key, key_node)
            except TypeError:
                continue  # an unhashable key: the base constructor reports it
            if first is not key_node:
                mark = key_node.start_mark
                raise YAMLDataError(
                    f"<yaml>: line {mark.line + 1}: key {key!r} appears twice (first on line "
                    f"{first.start_mark.line + 1}); the second would silently win (allowed: each key once)"
                )
        return super().construct_mapping(node, deep=deep)


def loads(content: str | bytes) -> Any:
    """Parse YAML text into plain data; raises YAMLDataError (never a PyYAML traceback)."""
    if len(content) > MAX_BYTES:
        raise YAMLDataError(f"<file>: {len(content):,} bytes is too large for a config (allowed: <= {MAX_BYTES:,} bytes)")
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8")
        except UnicodeDecodeError:
            raise YAMLDataError("<file>: not UTF-8 text") from None
    try:
        for event in yaml.parse(content, Loader=_CLoader):  # events only: an alias is refused before it expands
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
                mark = event.start_mark
                raise YAMLDataError(
                    f"<yaml>: line {mark.line + 1}, column {mark.column + 1}: YAML anchors and aliases (&name, "
                    "*name) are not accepted (write the values out; allowed: plain mappings, lists and scalars)"
                )
        return yaml.load(content, Loader=_DataLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise YAMLDataError(f"<yaml>: {where}invalid YAML: {problem}") from None


def read(path: str | Path) -> bytes:
    """A file's bytes, refusing one over MAX_BYTES without reading it all (a 100 MB upload costs one stat)."""
    path = Path(path)
    with path.open("rb") as f:
        content = f.read(MAX_BYTES + 1)
    if len(content) > MAX_BYTES:
        size = path.stat().st_size
        raise YAMLDataError(f"<file>: {size:,} bytes is too large for a config (allowed: <= {MAX_BYTES:,} bytes)")
    return content
