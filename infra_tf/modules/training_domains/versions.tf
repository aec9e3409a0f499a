terraform {
  # Provider-free on purpose: the per-domain service accounts and ABAC conditions are pure logic, tested offline
  # with `terraform test` (and evaluated against blob paths in tests/infra).
  required_version = ">= 1.11.0"
}
