"""Dagster code location: from task config to a deployed robot policy, per task and region."""
