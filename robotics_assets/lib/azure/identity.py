"""Identity rules for the Dagster side; one implementation shared with the trainer (``trainer.storage.identity``).

The trainer image carries only ``trainer/``, and its pods need the same rules (workload identity on AKS), so the
rules live there and the code location re-exports them rather than keeping a second copy.
"""

from trainer.storage.identity import (
    AUTH_ENV,
    AUTH_MODES,
    CONNECTION_STRING_ENV,
    AzureAuthError,
    auth_mode,
    blob_service_client,
    token_credential,
)

__all__ = [
    "AUTH_ENV",
    "AUTH_MODES",
    "CONNECTION_STRING_ENV",
    "AzureAuthError",
    "auth_mode",
    "blob_service_client",
    "token_credential",
]
