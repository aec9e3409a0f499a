"""The region settings contract: infra_tf's `regions` output as robotics_assets reads it."""

from __future__ import annotations

import copy
import json
import re

import pytest

from robotics_assets.lib.terraform_outputs import (
    RegionOutputs,
    RegionOutputsError,
    load_regions_file,
    training_domain_for,
)
from tests.infra.conftest import INFRA, ROOT

SAMPLE = INFRA / "examples" / "regions.sample.json"


@pytest.fixture
def sample() -> dict:
    return json.loads(SAMPLE.read_text())


def write(tmp_path, document) -> str:
    path = tmp_path / "regions.json"
    path.write_text(json.dumps(document))
    return str(path)


def test_sample_has_two_valid_regions():
    regions = load_regions_file(SAMPLE)
    assert list(regions) == ["eastus", "westeurope"]
    east = regions["eastus"]
    assert east.aks.training_service_account == "robotics-trainer"
    pool = east.gpu_node_pools["gpuspot"]
    assert pool.priority == "Spot" and pool.gpus_per_node == 1
    assert {t.key for t in pool.taints} == {"nvidia.com/gpu", "kubernetes.azure.com/scalesetpriority"}
    assert east.osmo.enabled and east.osmo.pool == "azure-eastus-gpu"
    assert regions["westeurope"].osmo.pool is None and east.gpu_price_per_hour == pytest.approx(3.673)


def test_model_matches_the_documented_shape():
    """The JSON example in docs/architecture.md ("Region settings") validates: docs and reader agree on every key."""
    doc = (ROOT / "docs" / "architecture.md").read_text()
    section = doc.split("## Region settings", 1)[1]
    example = json.loads(re.search(r"```json\n(.*?)\n```", section, flags=re.DOTALL).group(1))
    region = RegionOutputs.model_validate(example)
    assert set(region.model_dump()) == set(example)


def test_full_terraform_output_document_is_unwrapped(tmp_path, sample):
    document = {
        "regions": {"sensitive": False, "type": ["map", ["object", {}]], "value": sample},
        "container_registry_login_server": {"sensitive": False, "type": "string", "value": "cr.azurecr.io"},
    }
    assert list(load_regions_file(write(tmp_path, document))) == ["eastus", "westeurope"]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["eastus"]["aks"].pop("cluster_name"), r"eastus\.aks\.cluster_name: Field required"),
        (lambda d: d["westeurope"].pop("osmo"), r"westeurope\.osmo: Field required"),
        (lambda d: d["eastus"].update(gpu_price_per_hour="cheap"), r"eastus\.gpu_price_per_hour: .*number"),
        (
            lambda d: d["eastus"]["gpu_node_pools"]["gpuspot"].update(priority="Low"),
            r"eastus\.gpu_node_pools\.gpuspot\.priority: Input should be 'Spot' or 'Regular'",
        ),
        (lambda d: d["eastus"]["storage"].update(bucket="x"), r"eastus\.storage\.bucket: Extra inputs"),
        (lambda d: d["eastus"].update(location="westus"), r"eastus\.location: 'westus' does not match its key"),
        (lambda d: d["eastus"]["osmo"].update(pool=None), r"eastus\.osmo: .*pool: required when enabled"),
    ],
    ids=["missing-field", "missing-section", "wrong-type", "bad-enum", "unknown-key", "key-mismatch", "osmo-pool"],
)
def test_broken_file_names_region_and_field(tmp_path, sample, mutate, expected):
    broken = copy.deepcopy(sample)
    mutate(broken)
    path = write(tmp_path, broken)
    with pytest.raises(RegionOutputsError) as info:
        load_regions_file(path)
    message = str(info.value)
    assert re.search(expected, message), message
    assert message.startswith(path) and "docs/architecture.md" in message


def test_every_problem_is_reported_at_once(tmp_path, sample):
    sample["eastus"].pop("key_vault_uri")
    sample["westeurope"]["aks"].pop("namespace")
    with pytest.raises(RegionOutputsError) as info:
        load_regions_file(write(tmp_path, sample))
    assert "eastus.key_vault_uri" in str(info.value) and "westeurope.aks.namespace" in str(info.value)


def test_nulls_are_allowed_where_a_part_is_unused(tmp_path, sample):
    sample["westeurope"].update(aks=None, osmo=None, key_vault_uri=None, gpu_node_pools={}, gpu_price_per_hour=None,
                                default_gpu_pool=None, ml_workspace_name=None, subscription_id=None)
    assert load_regions_file(write(tmp_path, sample))["westeurope"].aks is None


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "regions file not found"),
        ("{not json", "not valid JSON"),
        ("{}", "non-empty JSON object"),
        ("[1, 2]", "non-empty JSON object"),
    ],
)
def test_unreadable_files_get_a_clear_error(tmp_path, content, expected):
    path = tmp_path / "regions.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(RegionOutputsError, match=expected):
        load_regions_file(path)


def test_default_pool_must_be_one_of_the_pools(tmp_path, sample):
    sample["westeurope"]["default_gpu_pool"] = "a100"
    with pytest.raises(RegionOutputsError, match=r"westeurope: .*default_gpu_pool: 'a100' is not one of gpu_node_pools"):
        load_regions_file(write(tmp_path, sample))


def test_a_task_finds_its_training_domain(sample):
    aks = load_regions_file(SAMPLE)["westeurope"].aks
    assert aks.training_domain("anymal-c").service_account == "robotics-trainer-teama"
    assert aks.training_domain("cartpole").service_account == aks.training_service_account == "robotics-trainer"
    domains = sample["westeurope"]["aks"]["training_domains"]
    domains["exact"] = {**domains["teama"], "service_account": "x", "tasks": ["anymal-c"]}
    domains.pop("default")
    assert training_domain_for(sample["westeurope"]["aks"], "anymal-c") == "exact"  # exact name beats a pattern
    assert training_domain_for(sample["westeurope"]["aks"], "anymal-d") == "teama"
    assert training_domain_for(sample["westeurope"]["aks"], "cartpole") is None  # no domain: the launcher refuses


def _settings(tmp_path, regions: dict):
    import yaml

    from robotics_assets.lib.settings import load_settings

    path = tmp_path / "settings.yaml"
    path.write_text(yaml.safe_dump({"regions_file": str(SAMPLE), "data_dir": str(tmp_path / "data"),
                                    "regions": regions}))
    return load_settings(path)


def test_price_and_pool_come_from_the_contract(tmp_path, sample):
    west = sample["westeurope"]
    settings = _settings(tmp_path, {"eastus": {"gpu_price_per_hour": 1.5},
                                    "westeurope": {"backend_options": {"node_pool": "h100"}}})
    assert settings.gpu_price_per_hour("eastus") == 1.5  # the deployment settings' override wins
    h100 = west["gpu_node_pools"]["h100"]
    assert settings.gpu_pool("westeurope") == "h100"
    assert settings.gpu_price_per_hour("westeurope") == pytest.approx(h100["price_per_hour"] / h100["gpus_per_node"])
    plain = _settings(tmp_path, {})
    assert plain.gpu_pool("westeurope") == west["default_gpu_pool"] == "gpuspot"
    assert plain.gpu_price_per_hour("westeurope") == pytest.approx(west["gpu_price_per_hour"])


def test_k8s_backend_schedules_on_the_default_pool(sample):
    from robotics_assets.lib.launch.k8s import K8sOptions

    west = sample["westeurope"]
    west["default_gpu_pool"] = "h100"  # not the first pool by name
    pinned = {"image_digest": "sha256:" + "0" * 64}  # pods run images pinned by digest
    options = K8sOptions.from_region("westeurope", west, pinned)
    assert options.node_selector == west["gpu_node_pools"]["h100"]["node_selector"]
    assert K8sOptions.from_region("westeurope", west, {**pinned, "node_pool": "gpuspot"}).node_selector == (
        west["gpu_node_pools"]["gpuspot"]["node_selector"])
