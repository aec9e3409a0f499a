"""Every azurerm resource checked against the azurerm 4.55 schema (carried in the cdktf provider wheel): argument
and block names exist, required ones are present. This is the part of `terraform validate` possible offline."""

from __future__ import annotations

import pytest

from tests.infra.azurerm_schema import check_module
from tests.infra.conftest import module_dirs
from tests.infra.hcl_config import load_module

pytestmark = pytest.mark.xdist_group(name="azurerm_schemas")  # one download into .data/cache

AZURERM_MODULES = [p.name for p in module_dirs() if any('resource "azurerm_' in f.read_text() for f in p.glob("*.tf"))]


def test_schema_covers_the_resources_we_use(azurerm_schemas):
    assert len(azurerm_schemas) > 1000
    cluster = azurerm_schemas["azurerm_kubernetes_cluster"]
    assert cluster.arguments["name"] is True and cluster.blocks["default_node_pool"][1] is True
    assert "workload_identity_enabled" in cluster.arguments


@pytest.mark.parametrize("name", AZURERM_MODULES)
def test_module_matches_azurerm_schema(azurerm_schemas, modules, name):
    assert modules[name].resources, f"{name}: no resources parsed"
    problems = check_module(azurerm_schemas, modules[name])
    assert not problems, "\n".join(problems)


def test_checker_catches_wrong_names_and_missing_arguments(azurerm_schemas, tmp_path):
    (tmp_path / "main.tf").write_text(
        """
resource "azurerm_key_vault" "bad" {
  name                      = "kv"
  location                  = "eastus"
  enable_rbac_authorisation = true
  sku_name                  = "standard"
  tenant_id                 = "t"
  network_acls {
    default_action = "Deny"
  }
  access_policies {
    object_id = "x"
  }
}

resource "azurerm_kubernetes_cluster" "bad" {
  name                = "aks"
  location            = "eastus"
  resource_group_name = "rg"
}

resource "azurerm_no_such_thing" "bad" {
  name = "x"
}
"""
    )
    problems = "\n".join(check_module(azurerm_schemas, load_module(tmp_path)))
    assert "unknown argument 'enable_rbac_authorisation'" in problems
    assert "missing required argument 'resource_group_name'" in problems  # key vault
    assert "network_acls[0]: missing required argument 'bypass'" in problems
    assert "unknown block 'access_policies'" in problems
    assert "azurerm_kubernetes_cluster.bad: missing required block 'default_node_pool'" in problems
    assert "azurerm_no_such_thing.bad: no such resource type" in problems
