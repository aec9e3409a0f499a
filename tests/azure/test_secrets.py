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
    install_process_redaction,
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
    install_process_redaction()  # what loading the definitions installs
    with caplog.at_level(logging.INFO, logger="test_redaction"):
        logger.info("connecting with %s", "planted-0123456789")
        try:
            raise RuntimeError("boom planted-0123456789")
        except RuntimeError:
            logger.exception("failed")
    assert "planted-0123456789" not in caplog.text and "***" in caplog.text


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


JWT = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJvc21vLXVzZXIiLCJleHAiOjE3MDB9.c2lnbmF0dXJlLWJ5dGVz"


@pytest.mark.parametrize(
    ("text", "secret", "kept"),
    [
        (f"token exchange answered {JWT} for the pool", JWT, "token exchange answered *** for the pool"),
        ('{"AccountName": "acct", "AccountKey": "a2V5LWJ5dGVzLTAxMjM=="}', "a2V5LWJ5dGVzLTAxMjM==",
         '"AccountKey": "***"'),
        ("next=https%3A%2F%2Fa.blob.core.windows.net%2Fc%3Fsv%3D2024%26sig%3DAbC%252Fdef%26se%3D2030 done",
         "AbC%252Fdef", "sig%3D***%26se%3D2030 done"),
        ("grant_type=client_credentials&client_secret=Zx9~secret.value&scope=x", "Zx9~secret.value",
         "client_secret=***&scope=x"),
        ("env: OSMO_TOKEN=tok-0123456789abcdef HOME=/root", "tok-0123456789abcdef", "OSMO_TOKEN=*** HOME=/root"),
        ("export github_token=ghp_0123456789abcdefghij", "ghp_0123456789abcdefghij", "github_token=***"),
        ('{"access_token": "opaque-access-value-123", "expires_in": 300}', "opaque-access-value-123",
         '"access_token": "***", "expires_in": 300'),
    ],
)
def test_credential_shapes_are_masked(text, secret, kept):
    from robotics_assets.lib.secrets import MASK
    from trainer.redaction import MASK as TRAINER_MASK
    from trainer.redaction import redact_credentials

    assert secret not in redact(text) and kept in redact(text)
    assert redact_credentials(text) == redact(text)  # the trainer's list is the code location's list
    assert MASK in redact(text) and TRAINER_MASK == MASK


def test_ordinary_text_is_left_alone():
    text = "partition eastus|cartpole: PARTITION_KEY=eastus, 3 tokens of text, signature check ok, eyJ-not-a-jwt"
    assert redact(text) == text


def test_the_code_location_redacts_every_log_record(monkeypatch, tmp_path):
    """Loading the definitions installs redaction for the whole process: Dagster's context.log (where Pipes lines
    from the trainer land) and any library's logger, including tracebacks, reach the event log masked."""
    from robotics_assets.definitions import defs

    monkeypatch.setenv("ROBOTICS_DATA_DIR", str(tmp_path))
    defs()

    @dg.asset
    def chatty(context):
        context.log.info(f"pipes line: Authorization granted {JWT}")
        logging.getLogger("some.library").warning("retrying with client_secret=%s", "planted-client-secret")
        try:
            raise RuntimeError('response {"AccountKey": "planted-account-key"}')
        except RuntimeError:
            context.log.exception("request failed")

    instance = dg.DagsterInstance.ephemeral(settings={"python_logs": {"managed_python_loggers": ["some.library"]}})
    result = dg.materialize([chatty], instance=instance)
    assert result.success
    records = instance.all_logs(result.run_id)
    messages = " ".join(e.user_message for e in records)
    assert "pipes line: Authorization granted ***" in messages and "client_secret=***" in messages
    dumped = "".join(repr(e) for e in records)
    for leaked in (JWT, "planted-client-secret", "planted-account-key"):
        assert leaked not in dumped


def test_an_mlflow_tracking_uri_with_credentials_is_refused():
    from robotics_assets.lib.registry import MLflowRegistry

    for uri in ("https://user:hunter2-password@mlflow.example.com", f"https://mlflow.example.com/?token={JWT}"):
        with pytest.raises(ValueError, match="resources.mlflow.config.tracking_uri: the URL carries credentials") as e:
            MLflowRegistry(tracking_uri=uri).uri()
        assert "hunter2" not in str(e.value) and JWT not in str(e.value)
    assert MLflowRegistry(tracking_uri="https://mlflow.example.com").uri() == "https://mlflow.example.com"
    with pytest.raises(ValueError, match="ui_url.*carries credentials"):
        MLflowRegistry(tracking_uri="https://mlflow.example.com",
                       ui_url="https://u:pw-secret-value@ui.example.com")._ui()
