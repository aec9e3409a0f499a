"""Refresh the inputs/outputs tables in each module's README.md from its variables.tf and outputs.tf.

    python infra_tf/scripts/module_docs.py          # rewrite the tables
    python infra_tf/scripts/module_docs.py --check  # exit 1 if a README is out of date (tests run this)

terraform-docs does this elsewhere, but it ships as a Go binary no package registry here offers; the tables sit
between the same markers terraform-docs uses, so switching to it later is a drop-in.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import hcl2

BEGIN, END = "<!-- BEGIN_TF_DOCS -->", "<!-- END_TF_DOCS -->"
MODULES = Path(__file__).resolve().parents[1] / "modules"


def _text(value) -> str:
    if isinstance(value, str) and value.startswith('"') and value.endswith('"'):
        value = json.loads(value, strict=False)
    if isinstance(value, str) and value.startswith("${") and value.endswith("}"):
        value = value[2:-1]
    text = value if isinstance(value, str) else json.dumps(value)
    return " ".join(text.replace("<<-EOT", "").replace("EOT", "").split()).replace("|", "\\|")


def _blocks(path: Path, kind: str) -> dict[str, dict]:
    with path.open() as handle:
        items = hcl2.load(handle).get(kind, [])
    return {label.strip('"'): spec for item in items for label, spec in item.items()}


def tables(module: Path) -> str:
    lines = ["## Inputs", "", "| Name | Description | Type | Default |", "|---|---|---|---|"]
    for name, spec in _blocks(module / "variables.tf", "variable").items():
        default = f"`{_text(spec['default']) or '""'}`" if "default" in spec else "required"
        lines.append(
            f"| `{name}` | {_text(spec.get('description', ''))} | `{_text(spec.get('type', 'any'))}` | {default} |"
        )
    lines += ["", "## Outputs", "", "| Name | Description |", "|---|---|"]
    for name, spec in _blocks(module / "outputs.tf", "output").items():
        lines.append(f"| `{name}` | {_text(spec.get('description', ''))} |")
    return "\n".join([BEGIN, *lines, END])


def refreshed(readme: str, module: Path) -> str:
    head, _, rest = readme.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return head + tables(module) + (tail if rest else "\n")


def main(check: bool) -> int:
    stale = []
    for module in sorted(p for p in MODULES.iterdir() if p.is_dir()):
        readme = module / "README.md"
        current = readme.read_text() if readme.exists() else f"# {module.name}\n\n"
        updated = refreshed(current, module)
        if updated != current:
            stale.append(str(readme))
            if not check:
                readme.write_text(updated)
    if check and stale:
        print("out of date (run python infra_tf/scripts/module_docs.py):\n  " + "\n  ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main("--check" in sys.argv[1:]))
