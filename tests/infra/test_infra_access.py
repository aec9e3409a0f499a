"""Who may do what: the ABAC conditions that keep one training domain out of another's checkpoints and models
(rendered by Terraform, evaluated here like Azure evaluates them), and the role grants around them."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from tests.infra.conftest import MODULES, ROOT

pytestmark = pytest.mark.xdist_group(name="infra_access")  # its module fixture applies Terraform once

WRITE = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write"
ADD = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action"
DELETE = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete"
MOVE = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/move/action"
READ = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"
PATH = "@Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:path]"
# The only shape the module renders: ((!(ActionMatches{a}) AND ...) OR (PATH StringLike 'p' OR ...)).
ACTION = r"!\(ActionMatches\{'([^']+)'\}\)"
LIKE = re.escape(PATH) + r" StringLike '([^']+)'"
GRAMMAR = re.compile(rf"\(\(({ACTION}(?: AND {ACTION})*)\) OR \(({LIKE}(?: OR {LIKE})*)\)\)")


def allows(condition: str | None, action: str, path: str) -> bool:
    """Azure's verdict for one request under a Storage Blob Data Contributor grant with this condition."""
    if condition is None:
        return True
    match = GRAMMAR.fullmatch(condition)
    assert match, f"condition outside the evaluated grammar: {condition}"
    guarded = re.findall(r"ActionMatches\{'([^']+)'\}", match.group(1))
    patterns = re.findall(r"StringLike '([^']+)'", condition)
    # StringLike: case-sensitive, `*` matches any run of characters (slashes included)
    like = any(re.fullmatch(".*".join(map(re.escape, p.split("*"))), path) for p in patterns)
    return action not in guarded or like


@pytest.fixture(scope="module")
def conditions(terraform, tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("domains") / "training_domains"
    shutil.copytree(MODULES / "training_domains", work, ignore=shutil.ignore_patterns("tests", ".terraform*"))
    (work / "terraform.tfvars.json").write_text(json.dumps({"training_domains": {
        "default": {"tasks": ["*"]},
        "teama": {"tasks": ["cartpole", "ant-*"]},
        "teamb": {"tasks": ["anymal"], "service_account": "anymal-trainer"},
    }}))
    for args in (("init", "-input=false"), ("apply", "-auto-approve", "-input=false")):
        code, _, err = terraform(*args, "-no-color", cwd=work)
        assert code == 0, err
    code, out, err = terraform("output", "-json", cwd=work)
    assert code == 0, err
    outputs = json.loads(out)
    assert outputs["service_accounts"]["value"]["teamb"] == "anymal-trainer"
    return outputs["conditions"]["value"]


@pytest.mark.parametrize("action", [WRITE, ADD, DELETE, MOVE])
@pytest.mark.parametrize(("path", "teama", "teamb"), [
    ("cartpole/eastus/0f8c/checkpoints/best_agent.pt", True, False),
    ("cartpole/eastus/0f8c/manifest.json", True, False),
    ("kernel-cache/cartpole/warp/abc.bin", True, False),
    ("ant-rough/westeurope/r1/model.onnx", True, False),
    ("anymal/eastus/r1/checkpoints/agent_100.pt", False, True),
    ("kernel-cache/anymal/x", False, True),
    ("cartpole2/eastus/r1/model.onnx", False, False),  # a prefix of another task's name is not the task
    ("anymal", False, False),  # the bare prefix is not under it
    ("Cartpole/eastus/r1/x", False, False),  # blob paths are case-sensitive, and so is StringLike
    ("kernel-cache/shared.bin", False, False),
])
def test_a_domain_writes_only_under_its_tasks(conditions, action, path, teama, teamb):
    assert allows(conditions["teama"], action, path) is teama
    assert allows(conditions["teamb"], action, path) is teamb
    assert allows(conditions["default"], action, path) is True  # the catch-all domain is unconditioned


def test_reads_are_not_conditioned(conditions):
    assert allows(conditions["teama"], READ, "anymal/eastus/r1/checkpoints/agent_100.pt")


def test_evaluator_rejects_what_it_cannot_read():
    with pytest.raises(AssertionError, match="outside the evaluated grammar"):
        allows("((true) OR (false))", WRITE, "x")


def test_training_grants_carry_the_domain_condition(modules):
    identities = modules["identities"]
    grant = identities.resources["azurerm_role_assignment.this"]
    assert grant.literal("condition") == "${each.value.condition}"
    assert grant.literal("condition_version") == '${each.value.condition == null ? null : "2.0"}'
    source = (MODULES / "identities" / "main.tf").read_text()
    for container in ("checkpoints", "models"):
        line = re.search(rf'"training-\$\{{domain\}}-{container}-write"\s*=\s*\{{([^}}]+)\}}', source).group(1)
        assert "condition = local.conditions[domain]" in line and "Storage Blob Data Contributor" in line


def test_orchestrator_has_no_namespace_writer_role():
    source = (MODULES / "identities" / "main.tf").read_text()
    roles = set(re.findall(r'role = "([^"]+)"', source))
    assert not {r for r in roles if "RBAC" in r or "Cluster Admin" in r}, roles  # a Kubernetes Role does it
    assert "Azure Kubernetes Service Cluster User Role" in roles  # still fetches a kubeconfig


def test_osmo_identity_and_federation(modules):
    identities = modules["identities"]
    assert "azurerm_user_assigned_identity.osmo" in identities.resources
    osmo_type = identities.variables["osmo"]["type"]
    for account in ("osmo-control-plane", "router", "osmo-operator-backend-listener", "osmo-operator-backend-worker"):
        assert account in osmo_type
    source = (MODULES / "identities" / "main.tf").read_text()
    # the workflow pods (the trainers) run as the default training identity, not as OSMO's control plane
    assert re.search(r'osmo-workflow = \{\s+identity\s+= "training-\$\{local.default_domain\}"', source)


def test_key_vault_lets_the_deployer_write_secrets(modules):
    vault = modules["key_vault"]
    officer = vault.resources["azurerm_role_assignment.deployer_secrets_officer"]
    assert officer.literal("role_definition_name") == "Key Vault Secrets Officer"
    assert vault.outputs["id"]["depends_on"] == ["${azurerm_role_assignment.deployer_secrets_officer}"]
    stack = (MODULES / "regional_stack" / "main.tf").read_text()
    assert "distinct(concat(var.region.allowed_ip_ranges, var.deployer_ip_ranges))" in stack
    assert stack.count("allowed_ip_ranges              = local.allowed_ip_ranges") == 2  # vault and storage


def test_root_requires_an_admin_group(modules):
    spec = modules["<root>"].variables["admin_group_object_ids"]
    assert "default" not in spec and "length(var.admin_group_object_ids) > 0" in spec["validation"][0]["condition"]


def test_docs_explain_the_isolation_choice():
    text = (ROOT / "docs" / "infra.md").read_text()
    assert "ABAC" in text and "user delegation sas" in text.lower().replace("user-delegation", "user delegation")
