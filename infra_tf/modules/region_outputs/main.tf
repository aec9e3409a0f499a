locals {
  # Exactly the "Region settings" shape of docs/architecture.md; robotics_assets.lib.terraform_outputs reads it.
  settings = {
    location            = var.location
    resource_group      = var.resource_group
    aks                 = var.aks
    gpu_node_pools      = var.gpu_node_pools
    container_registry  = var.container_registry
    storage             = var.storage
    key_vault_uri       = var.key_vault_uri
    mlflow_tracking_uri = var.mlflow_tracking_uri
    osmo                = var.osmo
    gpu_price_per_hour  = var.gpu_price_per_hour
  }
}
