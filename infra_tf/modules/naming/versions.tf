terraform {
  # Provider-free on purpose: naming is pure logic, tested offline with `terraform test`.
  required_version = ">= 1.11.0"
}
