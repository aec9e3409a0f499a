"""Secrets provider (environment/file locally, Key Vault on Azure) and redaction."""

from __future__ import annotations

import base64
import logging
from unittest import mock

import dagster as dg
import pytest

from robotics_assets.lib.secrets import (
    EnvSecrets,
    KeyVaultSecrets,
    SecretError,
    SecretsProvider,
    SecretsResource,
    install_redaction,
    redact,
    secrets_provider,
)


def test_env_then_file_then_mounted_folder(tmp_path):
    (tmp_path / "DB_PASSWORD").write_text("from-mounted-folder\n")
    file_secret = tmp_path / "token.txt"
    file_secret.write_text("from-file-variable")
    assert EnvSecrets({"DB_PASSWORD": "from-env"}, tmp_path).get("DB_PASSWORD") == "from-env"
    assert EnvSecrets({"DB_PASSWORD_FILE": str(file_secret)}, tmp_path).get("DB_PASSWORD") == "from-file-variable"
    assert EnvSecrets({}, tmp_path).get("DB_PASSWORD") == "from-mounted-folder"
    with pytest.raises(SecretError, match="secret 'OSMO_TOKEN' not found: set environment variable OSMO_TOKEN"):
        EnvSecrets({}, tmp_path).get("OSMO_TOKEN")


def test_backend_choice_is_explicit():
    assert isinstance(secrets_provider({}).backend, EnvSecrets)
    with pytest.raises(SecretError, match="needs ROBOTICS_KEY_VAULT_URI"):
        secrets_provider({"ROBOTICS_SECRETS_BACKEND": "keyvault"})
    with pytest.raises(SecretError, match="allowed: env, keyvault"):
        secrets_provider({"ROBOTICS_SECRETS_BACKEND": "vault"})


def _key_vault_client(values: dict[str, str]):
    """A MOCKED SecretClient (Key Vault has no emulator): autospec'd from the real class, so calls that the real
    client would reject fail here too; returns real KeyVaultSecret objects and raises the SDK's real errors."""
    from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
    from azure.keyvault.secrets import KeyVaultSecret, SecretClient, SecretProperties

    client = mock.create_autospec(SecretClient, instance=True)

    def get_secret(name, version=None, **kwargs):
        if name == "forbidden":
            err = HttpResponseError(message="Forbidden")
            err.status_code = 403
            raise err
        if name not in values:
            raise ResourceNotFoundError(f"SecretNotFound: {name}")
        return KeyVaultSecret(SecretProperties(vault_id=f"https://kv.vault.azure.net/secrets/{name}/1"), values[name])

    client.get_secret.side_effect = get_secret
    return client


def test_key_vault_backend_against_a_mocked_secret_client():
    client = _key_vault_client({"osmo-token": "kv-osmo-token-value"})
    kv = KeyVaultSecrets("https://kv.vault.azure.net/", client=client)
    provider = SecretsProvider(kv)
    assert provider.get("OSMO_TOKEN") == "kv-osmo-token-value"
    provider.get("OSMO_TOKEN")
    client.get_secret.assert_called_once_with("osmo-token")  # Key Vault naming, and cached
    with pytest.raises(SecretError, match="'missing-one' not found in Key Vault https://kv.vault.azure.net/"):
        provider.get("MISSING_ONE")
    with pytest.raises(SecretError, match="HTTP 403.*Key Vault Secrets User"):
        provider.get("FORBIDDEN")
    assert redact("token=kv-osmo-token-value!") == "token=***!"  # handed-out values are remembered


def test_redaction_of_known_values_and_credential_shapes(caplog):
    SecretsProvider(EnvSecrets({"API_TOKEN": "planted-0123456789"})).get("API_TOKEN")
    text = (
        "failed with planted-0123456789; DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abc/def+ghi==;"
        " https://a.blob.core.windows.net/c/x?sv=2024&sig=AbCd%2Fef postgresql://dagster:pw-value@db:5432/x"
        " Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload"
    )
    clean = redact(text)
    for leaked in ("planted-0123456789", "abc/def+ghi==", "AbCd%2Fef", "pw-value", "eyJhbGciOiJIUzI1NiJ9"):
        assert leaked not in clean
    assert "AccountName=a" in clean and "postgresql://dagster:***@db:5432/x" in clean

    logger = logging.getLogger("test_redaction")
    install_redaction(logger)
    with caplog.at_level(logging.INFO, logger="test_redaction"):
        logger.info("connecting with %s", "planted-0123456789")
        try:
            raise RuntimeError("boom planted-0123456789")
        except RuntimeError:
            logger.exception("failed")
    assert "planted-0123456789" not in caplog.text and "***" in caplog.text


def test_resource_config_holds_no_secret(monkeypatch):
    monkeypatch.setenv("PLANTED_TOKEN", "planted-resource-secret")

    @dg.asset
    def uses_secret(secrets: SecretsResource):
        token = secrets.get("PLANTED_TOKEN")
        return dg.MaterializeResult(metadata={"token_length": len(token)})

    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([uses_secret], resources={"secrets": SecretsResource()}, instance=instance)
    assert result.success
    run = instance.get_run_by_id(result.run_id)
    dumped = repr(run.run_config) + "".join(repr(e) for e in instance.all_logs(result.run_id))
    assert "planted-resource-secret" not in dumped


def test_the_secret_scanner_finds_what_it_looks_for(tmp_path):
    """The scan used on full runs must be able to fail: plant the secret in each kind of place it inspects."""
    from tests.azure.secret_scan import find_secret

    secret = "planted-scan-check-91b2"
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "log.txt").write_text(f"url=https://x/?token={secret}")

    @dg.asset
    def leaky(context):
        context.log.info(f"oops {secret}")
        return dg.MaterializeResult(metadata={"clean": 1})

    instance = dg.DagsterInstance.ephemeral()
    dg.materialize([leaky], instance=instance)
    hits = find_secret(secret, folders=[tmp_path], texts=["b64: " + base64.b64encode(secret.encode()).decode()],
                       instance=instance)
    assert any("nested/log.txt" in h for h in hits)
    assert any(h.startswith("text #0") for h in hits)
    assert any("event" in h for h in hits)
    assert find_secret("not-present-anywhere-x1", folders=[tmp_path], instance=instance) == []
