"""Structural rules every module must keep: layout, typed and described variables, and the security settings
that matter here (GPU pools tainted, storage not public, Key Vault on RBAC, workload identity on)."""

from __future__ import annotations

import importlib.util
import re

import hcl2
import pytest

from tests.infra.conftest import INFRA, MODULES, module_dirs
from tests.infra.hcl_config import literal

MODULE_NAMES = [p.name for p in module_dirs()]
CALL_META = {"source", "count", "for_each", "providers", "depends_on", "version"}


@pytest.mark.parametrize("name", MODULE_NAMES)
def test_module_layout(name):
    files = {p.name for p in (MODULES / name).iterdir()}
    assert {"main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"} <= files


@pytest.mark.parametrize("name", [*MODULE_NAMES, "<root>"])
def test_every_variable_is_typed_and_described(modules, name):
    for var, spec in modules[name].variables.items():
        assert literal(spec.get("description", "")).strip(), f"{name}: variable {var} has no description"
        assert "type" in spec and spec["type"] != "any", f"{name}: variable {var} has no type"


@pytest.mark.parametrize("name", [*MODULE_NAMES, "<root>"])
def test_every_output_is_described(modules, name):
    for out, spec in modules[name].outputs.items():
        assert literal(spec.get("description", "")).strip(), f"{name}: output {out} has no description"


@pytest.mark.parametrize("name", [*MODULE_NAMES, "<root>", "<examples/contract>"])
def test_module_calls_match_the_called_module(modules, name):
    """What `terraform validate` would say about module arguments: no unknown input, no missing required one."""
    for call, spec in modules[name].module_calls.items():
        target = (modules[name].path / literal(spec["source"])).resolve().name
        declared = modules[target].variables
        passed = set(spec) - CALL_META - {k for k in spec if k.startswith("__")}
        unknown = passed - set(declared)
        missing = {v for v, s in declared.items() if "default" not in s} - passed
        assert not unknown, f"{name}: module {call} passes undeclared inputs {sorted(unknown)}"
        assert not missing, f"{name}: module {call} misses required inputs {sorted(missing)}"


def test_azurerm_is_pinned_to_4x_everywhere(modules):
    root_pin = modules["<root>"].terraform[0]["required_providers"][0]["azurerm"]["version"]
    assert literal(root_pin) == "= 4.55.0"
    for name, module in modules.items():
        if any(r.startswith("azurerm_") for r in module.resources) and name != "<root>":
            pin = literal(module.terraform[0]["required_providers"][0]["azurerm"]["version"])
            assert re.fullmatch(r">= 4\.\d+\.\d+, < 5\.0\.0", pin), f"{name}: azurerm pin {pin!r}"


def test_regions_are_data_not_copies(modules):
    root = modules["<root>"]
    assert root.module_calls["region"]["for_each"] == "${var.regions}"
    assert literal(root.module_calls["region"]["source"]) == "./modules/regional_stack"
    assert set(root.outputs) >= {"regions"}
    # Shared pieces exist once, outside the per-region stack.
    assert (
        "container_registry" in root.module_calls and "container_registry" not in modules["regional_stack"].module_calls
    )


def test_gpu_pools_are_tainted_and_autoscaled(modules):
    pool = modules["aks"].resources["azurerm_kubernetes_cluster_node_pool.gpu"]
    assert pool.literal("node_taints") == "${each.value.node_taints}"
    assert pool.literal("auto_scaling_enabled") is True and pool.literal("mode") == "User"
    # The aks module refuses pools without the GPU taint; the gpu_node_pools module adds it (terraform test).
    validations = modules["aks"].variables["gpu_node_pools"]["validation"]
    assert any("nvidia.com/gpu=present:NoSchedule" in v["condition"] for v in validations)
    system = modules["aks"].resources["azurerm_kubernetes_cluster.this"].block("default_node_pool")
    assert system.literal("only_critical_addons_enabled") is True


def test_workload_identity_is_on(modules):
    cluster = modules["aks"].resources["azurerm_kubernetes_cluster.this"]
    assert cluster.literal("oidc_issuer_enabled") is True
    assert cluster.literal("workload_identity_enabled") is True
    assert cluster.literal("local_account_disabled") is True
    assert cluster.block("azure_active_directory_role_based_access_control").literal("azure_rbac_enabled") is True
    creds = {k: v for k, v in modules["identities"].resources.items() if k.startswith("azurerm_federated_identity")}
    # Azure refuses concurrent credential writes under one identity: the waves run one after another.
    assert sorted(creds) == [f"azurerm_federated_identity_credential.wave_{n}" for n in range(5)]
    for n in range(5):
        cred = creds[f"azurerm_federated_identity_credential.wave_{n}"]
        assert cred.literal("for_each") == f"${{local.waves[{n}]}}"
        assert cred.literal("audience") == ["api://AzureADTokenExchange"]
        assert cred.literal("subject").startswith("system:serviceaccount:")
        assert n == 0 or cred.attributes["depends_on"] == [f"${{azurerm_federated_identity_credential.wave_{n - 1}}}"]


@pytest.mark.parametrize("module", ["storage", "ml_workspace"])
def test_storage_is_not_public(modules, module):
    for key, account in modules[module].resources.items():
        if not key.startswith("azurerm_storage_account."):
            continue
        assert account.literal("allow_nested_items_to_be_public") is False, key
        assert account.literal("min_tls_version") == "TLS1_2", key
        assert account.literal("https_traffic_only_enabled") is True, key


def test_training_storage_denies_by_default_and_uses_entra_id(modules):
    account = modules["storage"].resources["azurerm_storage_account.this"]
    assert account.literal("shared_access_key_enabled") is False
    assert account.block("network_rules").literal("default_action") == "Deny"
    container = modules["storage"].resources["azurerm_storage_container.this"]
    assert container.literal("container_access_type") == "private"
    assert "storage_account_id" in container.attributes  # ARM path: the firewall does not block Terraform


def test_key_vault_uses_rbac(modules):
    vault = modules["key_vault"].resources["azurerm_key_vault.this"]
    assert vault.literal("rbac_authorization_enabled") is True
    assert vault.literal("purge_protection_enabled") is True
    assert vault.block("network_acls").literal("default_action") == "Deny"


def test_no_secret_reaches_state(modules):
    osmo = modules["osmo_dependencies"]
    server = osmo.resources["azurerm_postgresql_flexible_server.osmo"]
    assert "administrator_password" not in server.attributes and "administrator_password_wo" in server.attributes
    assert "value" not in osmo.resources["azurerm_key_vault_secret.postgresql_password"].attributes
    assert set(osmo.ephemeral) == {"random_password.postgresql"}
    assert server.literal("public_network_access_enabled") is False


def test_registry_has_no_admin_user_or_anonymous_pull(modules):
    registry = modules["container_registry"].resources["azurerm_container_registry.this"]
    assert registry.literal("admin_enabled") is False and registry.literal("anonymous_pull_enabled") is False


def test_role_assignments_are_scoped_below_the_subscription(modules):
    grants = modules["identities"].resources["azurerm_role_assignment.this"]
    assert grants.literal("for_each") == "${local.grants}"
    source = (MODULES / "identities" / "main.tf").read_text()
    roles = set(re.findall(r'role = "([^"]+)"', source))
    assert not roles & {"Owner", "Contributor", "User Access Administrator"}, roles
    assert "Storage Blob Data Reader" in roles  # trainers only read task configs


def test_osmo_dependencies_sit_behind_a_flag(modules):
    call = modules["regional_stack"].module_calls["osmo_dependencies"]
    assert call["count"] == "${local.osmo ? 1 : 0}"


def test_state_backend_is_remote(modules):
    (backend,) = modules["<root>"].terraform[0]["backend"]
    assert list(backend) == ['"azurerm"']
    assert (INFRA / "backend.hcl.example").read_text().count("use_azuread_auth") == 1


def test_module_readmes_list_current_inputs_and_outputs(capsys):
    spec = importlib.util.spec_from_file_location("module_docs", INFRA / "scripts" / "module_docs.py")
    module_docs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module_docs)
    assert module_docs.main(check=True) == 0, capsys.readouterr().out


def test_example_tfvars_use_only_declared_region_settings(modules):
    with (INFRA / "terraform.tfvars.example").open() as handle:
        example = hcl2.load(handle)
    region_type = modules["<root>"].variables["regions"]["type"]
    declared = set(re.findall(r"(\w+) = optional\(", region_type))
    pool_type = re.search(r"gpu_node_pools = optional\(map\(object\(\{(.*?)\}\)\)\)", region_type).group(1)
    pool_fields = set(re.findall(r"(\w+) = ", pool_type))
    assert example["regions"] and "address_space" in declared and "vm_size" in pool_fields
    for name, region in example["regions"].items():
        assert set(region) - {"__is_block__"} <= declared, f"{name}: {set(region) - declared}"
        for pool in region.get("gpu_node_pools", {}).values():
            assert set(pool) <= pool_fields, f"{name}: {set(pool) - pool_fields}"


def test_osmo_dependencies_are_what_osmo_needs(modules):
    osmo = modules["osmo_dependencies"]
    redis = osmo.resources["azurerm_managed_redis.osmo"].block("default_database")
    assert redis.literal("clustering_policy") == "EnterpriseCluster"  # OSMO's client does not follow MOVED
    extensions = osmo.resources["azurerm_postgresql_flexible_server_configuration.extensions"]
    assert extensions.literal("name") == "azure.extensions"
    assert set(extensions.literal("value").split(",")) >= {"HSTORE", "UUID-OSSP", "PG_STAT_STATEMENTS"}
    database = osmo.resources["azurerm_postgresql_flexible_server_database.osmo"]
    assert database.attributes["depends_on"] == ["${azurerm_postgresql_flexible_server_configuration.extensions}"]
    key = osmo.resources["azurerm_key_vault_secret.redis_key"]
    assert "value" not in key.attributes and "primary_access_key" in key.literal("value_wo")
    stack = (MODULES / "regional_stack" / "main.tf").read_text()
    assert 'containers                     = { osmo = local.osmo ? "osmo" : null }' in stack


@pytest.mark.parametrize(("module", "target"), [
    ("aks", "azurerm_kubernetes_cluster.this"),
    ("key_vault", "azurerm_key_vault.this"),
    ("storage", "azurerm_storage_account.this"),
    ("ml_workspace", "azurerm_machine_learning_workspace.this"),
    ("container_registry", "azurerm_container_registry.this"),
    ("osmo_dependencies", "azurerm_postgresql_flexible_server.osmo"),
    ("osmo_dependencies", "azurerm_managed_redis.osmo"),
])
def test_every_data_service_sends_diagnostics(modules, module, target):
    settings = [r for k, r in modules[module].resources.items() if k.startswith("azurerm_monitor_diagnostic_setting.")]
    reference = target.replace(".", r"\.")
    matching = [s for s in settings if re.search(reference + r"\.id", s.literal("target_resource_id"))]
    assert matching, f"{module}: no diagnostic setting targets {target}"
    assert all(s.blocks.get("enabled_log") for s in matching)


def test_storage_lifecycle_expires_versions_and_pipes_messages(modules):
    policy = modules["storage"].resources["azurerm_storage_management_policy.this"]
    rules = {r.literal("name"): r for r in policy.blocks["rule"]}
    versions = rules["delete-old-versions"].block("actions").block("version")
    assert "version_retention_days" in versions.literal("delete_after_days_since_creation")
    pipes = rules["expire-pipes-messages"]
    assert pipes.block("filters").literal("prefix_match") == ["${var.containers.pipes}/"]
    assert "pipes_retention_days" in pipes.block("actions").block("base_blob").literal(
        "delete_after_days_since_modification_greater_than")


def test_managed_prometheus_is_wired(modules):
    cluster = modules["aks"].resources["azurerm_kubernetes_cluster.this"]
    assert "monitor_metrics" in cluster.blocks
    monitoring = modules["monitoring"].resources
    rule = monitoring["azurerm_monitor_data_collection_rule.prometheus"]
    assert rule.block("data_sources").block("prometheus_forwarder").literal("streams") == ["Microsoft-PrometheusMetrics"]
    assert "azurerm_monitor_workspace.this" in monitoring
    associations = {k for k in modules["aks"].resources if k.startswith("azurerm_monitor_data_collection_rule_association")}
    assert len(associations) == 3  # Prometheus rule and endpoint, Container Insights rule
    insights = monitoring["azurerm_monitor_data_collection_rule.container_insights"]
    assert insights.block("data_sources").block("extension").literal("extension_name") == "ContainerInsights"
    oms = cluster.block("oms_agent")
    assert oms.literal("msi_auth_for_monitoring_enabled") is True  # which is why the rule above is needed


def test_private_endpoints_cover_registry_and_azure_ml_behind_the_flag(modules):
    calls = modules["regional_stack"].module_calls
    for name, subresource in (("registry_endpoint", "registry"), ("ml_workspace_endpoint", "amlworkspace")):
        assert calls[name]["count"] == "${local.private ? 1 : 0}"
        assert literal(calls[name]["subresource"]) == subresource
    assert calls["ml_workspace"]["public_network_access_enabled"] == "${!local.private}"
    zones = (MODULES / "networking" / "main.tf").read_text()
    assert "privatelink.api.azureml.ms" in zones and "privatelink.notebooks.azure.net" in zones
    # Azure Monitor Private Link Scope: workspace, App Insights and the Prometheus endpoint, behind the same flag
    monitoring = modules["monitoring"].resources
    assert monitoring["azurerm_monitor_private_link_scope.this"].literal("count") == (
        "${var.should_create_private_endpoint ? 1 : 0}")
    endpoint = monitoring["azurerm_private_endpoint.monitor"]
    assert endpoint.block("private_service_connection").literal("subresource_names") == ["azuremonitor"]
    assert calls["monitoring"]["should_create_private_endpoint"] == "${local.private}"
    for zone in ("monitor.azure.com", "oms.opinsights", "ods.opinsights", "agentsvc.azure-automation"):
        assert f"privatelink.{zone}" in zones


def test_storage_firewall_gets_single_addresses_bare(modules):
    """Azure Storage refuses /31 and /32 network rules; the deployer's "x.x.x.x/32" must arrive as "x.x.x.x"."""
    rules = modules["storage"].resources["azurerm_storage_account.this"].block("network_rules")
    assert rules.literal("ip_rules") == '${[for range in var.allowed_ip_ranges : trimsuffix(range, "/32")]}'
    validation = modules["storage"].variables["allowed_ip_ranges"]["validation"][0]["condition"]
    assert '!endswith(range, "/31")' in validation
