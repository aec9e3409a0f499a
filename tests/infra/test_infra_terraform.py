"""Terraform itself, offline: formatting, the config loader on the whole module tree, `terraform test` of the
provider-free modules, and the outputs sample rendered by the real contract module."""

from __future__ import annotations

import json
import re

import pytest

from tests.infra.conftest import INFRA, PROVIDER_FREE


def test_every_file_is_terraform_fmt_clean(terraform):
    code, out, err = terraform("fmt", "-check", "-recursive", "-diff", "-no-color", cwd=INFRA)
    assert code == 0 and out == "", f"run `terraform fmt -recursive infra_tf`:\n{out}{err}"


def test_fmt_check_catches_misformatting(terraform, tmp_path):
    (tmp_path / "main.tf").write_text("locals {\n  a = 1\n  long_name = 2\n}\n")
    code, out, _ = terraform("fmt", "-check", "-no-color", cwd=tmp_path)
    assert code != 0 and "main.tf" in out


def test_terraform_loads_the_whole_module_tree(terraform, infra_copy):
    # `get` runs Terraform's config loader over the root and every module it calls (no provider needed).
    code, out, err = terraform("get", "-no-color", cwd=infra_copy)
    assert code == 0, err
    loaded = set(re.findall(r"^- (\S+) in ", out, flags=re.MULTILINE))
    assert {"region", "container_registry", "region.aks", "region.identities", "region.osmo_dependencies",
            "region.cluster_manifests", "region.identities.domains", "region.registry_endpoint"} <= loaded


def test_config_loader_reports_a_broken_module(terraform, tmp_path):
    (tmp_path / "main.tf").write_text('module "m" {\n  source = "./m"\n}\n')
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "variables.tf").write_text('variable "x" {\n  typo = string\n}\n')
    code, _, err = terraform("get", "-no-color", cwd=tmp_path)
    assert code != 0 and 'argument named "typo"' in err


@pytest.mark.parametrize("module", PROVIDER_FREE)
def test_provider_free_module_passes_terraform_test(terraform, infra_copy, module):
    path = infra_copy / "modules" / module
    code, _, err = terraform("init", "-input=false", "-no-color", cwd=path)
    assert code == 0, err
    code, out, err = terraform("test", "-no-color", cwd=path)
    summary = re.search(r"(\d+) passed, (\d+) failed", out)
    assert code == 0 and summary, out + err
    assert int(summary.group(1)) >= 2 and summary.group(2) == "0", out


def test_sample_is_what_the_contract_module_renders(terraform, infra_copy):
    """examples/regions.sample.json must be byte-for-byte the value Terraform produces (modulo formatting)."""
    path = infra_copy / "examples" / "contract"
    for args in (("init", "-input=false"), ("apply", "-auto-approve", "-input=false")):
        code, _, err = terraform(*args, "-no-color", cwd=path)
        assert code == 0, err
    for output in ("regions", "cluster_manifests"):
        code, out, err = terraform("output", "-json", output, cwd=path)
        assert code == 0, err
        committed = json.loads((INFRA / "examples" / f"{output}.sample.json").read_text())
        assert json.loads(out) == committed, f"regenerate {output}.sample.json: see infra_tf/examples/contract/main.tf"
