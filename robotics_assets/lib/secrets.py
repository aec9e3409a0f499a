"""Secrets: where they come from (environment/files locally, Key Vault on Azure) and keeping them out of output.

Secrets reach resources only through ``dg.EnvVar`` (Dagster resolves it at run time and never stores the value) or
through this provider, never as config values, which Dagster records in run configs and the UI.
Every value handed out here is remembered by ``redact`` so errors and log lines can be scrubbed before they leave.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

# The credential shapes are one list, shared with the trainer image (which has no robotics_assets): a dependency-free
# module of the trainer package, the only one the code location imports (test_loading_definitions_imports_nothing_heavy)
from trainer.redaction import redact_credentials

BACKEND_ENV = "ROBOTICS_SECRETS_BACKEND"  # env (default) | keyvault
KEY_VAULT_ENV = "ROBOTICS_KEY_VAULT_URI"
SECRETS_DIR_ENV = "ROBOTICS_SECRETS_DIR"  # a mounted folder of one file per secret (k8s Secret / CSI driver)
MASK = "***"  # = trainer.redaction.MASK
_MIN_LEN = 6  # shorter values would mask ordinary words


class SecretError(LookupError):
    """A secret is missing or its source misconfigured; the message names the secret and the fix, never a value."""


class SecretsBackend(Protocol):
    def get(self, name: str) -> str: ...


_known: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Remember a value so ``redact`` masks it wherever it shows up."""
    if value and len(value) >= _MIN_LEN:
        with _lock:
            _known.add(value)


def redact(text: Any) -> str:
    """``text`` as a string with every known secret and credential-shaped substring replaced by ``***``."""
    out = str(text)
    with _lock:
        known = sorted(_known, key=len, reverse=True)
    for value in known:
        out = out.replace(value, MASK)
    return redact_credentials(out)


def has_credentials(text: str) -> bool:
    """Whether ``redact`` would mask something in ``text`` (a password in a URL, a SAS `sig=`, a key, a token, a
    known secret)."""
    return redact(text) != str(text)


def _scrub(record: logging.LogRecord) -> None:
    """Rewrite a record's message and traceback with ``redact`` (the traceback becomes text: frames may quote
    credentials in their locals' reprs)."""
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a malformed format/args pair: leave it to logging's own error report
        return
    cleaned = redact(message)
    if cleaned != message:
        record.msg, record.args = cleaned, None
    if record.exc_info and record.exc_info[1] is not None:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        record.exc_info = None
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)


def install_process_redaction() -> None:
    """Redact every log record this process creates, whatever logger or handler it goes to.

    A logger's filter sees only records logged on that very logger, and handlers come and go (Dagster adds its
    own per run); the record factory is the one place every record passes, Dagster's ``context.log`` (Pipes
    messages from the trainer included) and library loggers alike. Idempotent; the code location's definitions
    install it, so the code server, the daemon's sensor ticks and every run worker redact.
    """
    with _lock:
        base = logging.getLogRecordFactory()
        if getattr(base, "redacting", False):
            return

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = base(*args, **kwargs)
            _scrub(record)
            return record

        factory.redacting = True  # type: ignore[attr-defined]
        logging.setLogRecordFactory(factory)


class EnvSecrets:
    """Environment variable ``NAME``, else ``$NAME_FILE``, else ``<secrets_dir>/NAME`` (a mounted secret volume)."""

    def __init__(self, env: Mapping[str, str] | None = None, secrets_dir: str | Path | None = None):
        self.env = os.environ if env is None else env
        folder = secrets_dir or self.env.get(SECRETS_DIR_ENV)
        self.secrets_dir = Path(folder) if folder else None

    def get(self, name: str) -> str:
        if self.env.get(name):
            return self.env[name]
        file_var = self.env.get(f"{name}_FILE")
        candidates = [Path(file_var)] if file_var else []
        if self.secrets_dir:
            candidates.append(self.secrets_dir / name)
        for path in candidates:
            if path.is_file():
                return path.read_text().strip()
        where = f"environment variable {name}, {name}_FILE"
        where += f" or file {self.secrets_dir / name}" if self.secrets_dir else f" or {SECRETS_DIR_ENV}/{name}"
        raise SecretError(f"secret {name!r} not found: set {where}")


class KeyVaultSecrets:
    """Azure Key Vault. Secret names are Key Vault's (letters, digits, '-'); ``FOO_BAR`` is looked up as ``foo-bar``.

    The client is built only when this backend is chosen explicitly, with a credential from the explicit identity
    mode (``ROBOTICS_AZURE_AUTH``): never ``DefaultAzureCredential``.
    """

    def __init__(self, vault_url: str, client: Any = None, env: Mapping[str, str] | None = None):
        self.vault_url = vault_url
        if client is None:
            from azure.keyvault.secrets import SecretClient

            from robotics_assets.lib.azure.identity import auth_mode, token_credential

            env = os.environ if env is None else env
            client = SecretClient(vault_url, token_credential(auth_mode(env), env))
        self.client = client
        self._cache: dict[str, str] = {}

    @staticmethod
    def vault_name(name: str) -> str:
        return name.replace("_", "-").lower()

    def get(self, name: str) -> str:
        if name in self._cache:
            return self._cache[name]
        from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

        key = self.vault_name(name)
        try:
            value = self.client.get_secret(key).value
        except ResourceNotFoundError:
            raise SecretError(f"secret {key!r} not found in Key Vault {self.vault_url}: add it there") from None
        except HttpResponseError as e:
            raise SecretError(
                f"Key Vault {self.vault_url} refused secret {key!r} (HTTP {e.status_code}): grant the identity the "
                "'Key Vault Secrets User' role"
            ) from None
        if value is None:
            raise SecretError(f"secret {key!r} in Key Vault {self.vault_url} has no value")
        self._cache[name] = value
        return value


class SecretsProvider:
    """The one way code asks for a secret; remembers every value it hands out for ``redact``."""

    def __init__(self, backend: SecretsBackend):
        self.backend = backend

    def get(self, name: str) -> str:
        value = self.backend.get(name)
        register_secret(value)
        return value


def secrets_provider(env: Mapping[str, str] | None = None) -> SecretsProvider:
    """The backend chosen by ``ROBOTICS_SECRETS_BACKEND`` (``env`` default, ``keyvault`` needs the vault URI)."""
    env = os.environ if env is None else env
    backend = env.get(BACKEND_ENV, "env").strip() or "env"
    if backend == "env":
        return SecretsProvider(EnvSecrets(env))
    if backend == "keyvault":
        uri = env.get(KEY_VAULT_ENV)
        if not uri:
            raise SecretError(
                f"{BACKEND_ENV}=keyvault needs {KEY_VAULT_ENV} (the region's key_vault_uri Terraform output)"
            )
        return SecretsProvider(KeyVaultSecrets(uri, env=env))
    raise SecretError(f"{BACKEND_ENV}={backend!r} is not a secrets backend (allowed: env, keyvault)")
