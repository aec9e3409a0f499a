"""Shared test set-up: real backing services (Azurite, MLflow server, PostgreSQL) as session fixtures."""

pytest_plugins = ["tests.services"]
