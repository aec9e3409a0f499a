"""deployment domain."""
