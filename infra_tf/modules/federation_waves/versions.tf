terraform {
  # Provider-free on purpose: the ordering of federated credential writes is pure logic, tested offline.
  required_version = ">= 1.11.0"
}
