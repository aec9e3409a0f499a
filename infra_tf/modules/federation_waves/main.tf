locals {
  # Azure refuses concurrent federated-credential writes under one identity ("Too many Federated Identity
  # Credentials are written concurrently"): the n-th credential of each identity goes in wave n, and the identities
  # module writes the waves one after another. An identity's own service account always comes first (wave 0), so
  # adding OSMO's credentials never moves an existing one.
  order = { for key, f in var.federations : key => "${f.primary ? 0 : 1}/${key}" }
  wave = {
    for key, f in var.federations : key => index(sort([
      for k, g in var.federations : local.order[k] if g.identity == f.identity
    ]), local.order[key])
  }
  waves = [for n in range(5) : { for key, f in var.federations : key => f if local.wave[key] == n }]
}
