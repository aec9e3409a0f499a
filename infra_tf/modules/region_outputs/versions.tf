terraform {
  # Provider-free on purpose: the shape of the region settings contract is tested offline with `terraform test`
  # and rendered into examples/regions.sample.json by examples/contract.
  required_version = ">= 1.11.0"
}
