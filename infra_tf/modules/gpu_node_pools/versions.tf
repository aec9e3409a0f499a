terraform {
  # Provider-free on purpose: pool sizing, taints and prices are pure logic, tested offline with `terraform test`.
  required_version = ">= 1.11.0"
}
