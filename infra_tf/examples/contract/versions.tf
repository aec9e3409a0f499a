terraform {
  # Provider-free: renders ../regions.sample.json offline with the same naming, GPU pool and contract modules as the
  # real regional stack, standing in placeholder values for what only Azure knows (OIDC issuer, client IDs).
  required_version = ">= 1.11.0"
}
