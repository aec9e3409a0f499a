"""The errors that mean the caller gave something unusable: exit code 2 in the CLI contract (docs/architecture.md).

One list for every command (`train`, `evaluate`, `export`); each command adds the errors only it can raise.
Imported when a command runs, never at module load: the errors live next to the code that raises them.
"""

from __future__ import annotations


def bad_input_errors(*extra: type[BaseException]) -> tuple[type[BaseException], ...]:
    from trainer.agent_schema import AgentConfigError
    from trainer.checkpoints import CheckpointError
    from trainer.config import ConfigError
    from trainer.sim_assets import AssetError
    from trainer.storage import ArtifactURIError, IntegrityError
    from trainer.storage.identity import AzureAuthError
    from trainer.storage.run_location import RunLocationError

    return (ConfigError, AgentConfigError, CheckpointError, AssetError, ArtifactURIError, AzureAuthError,
            RunLocationError, IntegrityError, *extra)
