"""Reusable machinery for the code location: settings, launchers, registry helpers."""
