"""The azurerm 4.x resource schema, read offline from the jsii assembly inside the cdktf provider wheel.

No registry here ships the azurerm provider itself, so `terraform validate` cannot see its schema. The prebuilt
cdktf bindings are generated from that schema and carry every argument name, whether it is required, and every
nested block: enough to catch a misspelt or removed argument, or a missing required one, before a real `plan`.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

CDKTF_WHEEL = "cdktf-cdktf-provider-azurerm==14.23.1"
_ASSEMBLY = "cdktf_cdktf_provider_azurerm/_jsii/provider-azurerm@14.23.1.jsii.tgz"
_RESOURCE_DOC = re.compile(r"docs/resources/(\w+) (azurerm_\w+)\}")
_ARG_LINK = re.compile(r"#(\w+) \w+#\w+\}")
# Terraform meta-arguments every resource accepts; cdktf models them on a shared base interface.
META_ARGUMENTS = {"count", "for_each", "depends_on", "lifecycle", "provider", "provisioner", "connection"}


@dataclass
class Block:
    """Arguments (name -> required) and nested blocks (name -> (Block, required)) of one schema block."""

    arguments: dict[str, bool] = field(default_factory=dict)
    blocks: dict[str, tuple[Block, bool]] = field(default_factory=dict)


def _struct_fqn(type_ref: dict) -> str | None:
    """The struct a property refers to, whether as a single block or a list/set of blocks."""
    if "fqn" in type_ref:
        return type_ref["fqn"]
    if "collection" in type_ref:
        return _struct_fqn(type_ref["collection"]["elementtype"])
    for option in type_ref.get("union", {}).get("types", []):
        found = _struct_fqn(option)
        if found and not found.startswith("cdktf."):
            return found
    return None


def _tf_name(prop: dict) -> str:
    docs = prop.get("docs", {})
    match = _ARG_LINK.search(docs.get("remarks", "") + " " + docs.get("summary", ""))
    # The registry link carries the snake_case name Terraform uses; fall back to converting camelCase.
    return match.group(1) if match else re.sub(r"(?<!^)(?=[A-Z])", "_", prop["name"]).lower()


def _block(types: dict, fqn: str) -> Block:
    block = Block()
    for prop in types[fqn].get("properties", []):
        name = _tf_name(prop)
        required = not prop.get("optional", False)
        nested = _struct_fqn(prop["type"])
        if nested and types.get(nested, {}).get("datatype"):
            block.blocks[name] = (_block(types, nested), required)
        else:
            block.arguments[name] = required
    return block


def load_resource_schemas(assembly: dict) -> dict[str, Block]:
    """Map every azurerm resource type (e.g. ``azurerm_kubernetes_cluster``) to its schema."""
    types = assembly["types"]
    schemas: dict[str, Block] = {}
    for spec in types.values():
        if spec.get("kind") != "class":
            continue
        match = _RESOURCE_DOC.search(spec.get("docs", {}).get("summary", ""))
        if not match:
            continue
        config = next(p for p in spec["initializer"]["parameters"] if p["name"] == "config")
        schemas[match.group(2)] = _block(types, config["type"]["fqn"])
    return schemas


def _to_json(block: Block) -> dict:
    return {"a": block.arguments, "b": {k: [_to_json(v), req] for k, (v, req) in block.blocks.items()}}


def _from_json(data: dict) -> Block:
    return Block(data["a"], {k: (_from_json(v), req) for k, (v, req) in data["b"].items()})


def fetch_resource_schemas(cache_dir: Path) -> dict[str, Block]:
    """Download the wheel once (pip, no dependencies); cache the derived resource schemas as JSON (~2 MB)."""
    cached = cache_dir / "azurerm-resources-14.23.1.json"
    if cached.exists():
        return {k: _from_json(v) for k, v in json.loads(cached.read_text()).items()}
    cache_dir.mkdir(parents=True, exist_ok=True)
    wheels = list(cache_dir.glob("cdktf_cdktf_provider_azurerm-*.whl"))
    if not wheels:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(cache_dir), CDKTF_WHEEL],
            check=True,
            capture_output=True,
            timeout=300,
        )
        wheels = list(cache_dir.glob("cdktf_cdktf_provider_azurerm-*.whl"))
    with zipfile.ZipFile(wheels[0]) as wheel, tarfile.open(fileobj=io.BytesIO(wheel.read(_ASSEMBLY))) as tgz:
        raw = tgz.extractfile("package/.jsii").read()
    schemas = load_resource_schemas(json.loads(raw))
    partial = cached.with_suffix(".tmp")
    partial.write_text(json.dumps({k: _to_json(v) for k, v in schemas.items()}))
    partial.replace(cached)  # never leave a half-written cache behind
    wheels[0].unlink()  # the 45 MB wheel is not needed once the schemas are extracted
    return schemas


def check_body(schema: Block, body, where: str) -> list[str]:
    """Problems of one resource body (tests.infra.hcl_config.Body) against its schema block."""
    problems = []
    for name in body.attributes:
        if name in META_ARGUMENTS:
            continue
        if name in schema.blocks:
            problems.append(f"{where}: {name} is a block in azurerm, not an argument")
        elif name not in schema.arguments:
            problems.append(f"{where}: unknown argument {name!r}")
    for name, bodies in body.blocks.items():
        if name in META_ARGUMENTS:
            continue
        if name not in schema.blocks:
            problems.append(f"{where}: unknown block {name!r}")
            continue
        for index, nested in enumerate(bodies):
            problems += check_body(schema.blocks[name][0], nested, f"{where}.{name}[{index}]")
    for name, required in schema.arguments.items():
        if required and name not in body.attributes:
            problems.append(f"{where}: missing required argument {name!r}")
    for name, (_, required) in schema.blocks.items():
        if required and name not in body.blocks:
            problems.append(f"{where}: missing required block {name!r}")
    return problems


def check_module(schemas: dict[str, Block], module) -> list[str]:
    """Problems of every azurerm resource in a module (tests.infra.hcl_config.Module)."""
    problems = []
    for key, body in module.resources.items():
        resource_type = key.split(".")[0]
        if not resource_type.startswith("azurerm_"):
            continue
        if resource_type not in schemas:
            problems.append(f"{module.path.name}/{key}: no such resource type in azurerm {CDKTF_WHEEL}")
            continue
        problems += check_body(schemas[resource_type], body, f"{module.path.name}/{key}")
    return problems
