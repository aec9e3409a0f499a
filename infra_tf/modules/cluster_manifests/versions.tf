terraform {
  # Provider-free on purpose: the cluster objects are data, rendered here, tested offline with `terraform test`
  # (and schema-checked in tests/infra), applied after `terraform apply` by scripts/post_apply.sh. A kubernetes or
  # helm provider cannot be configured per instance of the root's `for_each` over regions.
  required_version = ">= 1.11.0"
}
