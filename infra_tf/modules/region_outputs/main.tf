locals {
  # Exactly the "Region settings" shape of docs/architecture.md; robotics_assets.lib.terraform_outputs reads it.
  settings = {
    location            = var.location
    subscription_id     = var.subscription_id
    resource_group      = var.resource_group
    aks                 = var.aks
    gpu_node_pools      = var.gpu_node_pools
    default_gpu_pool    = var.default_gpu_pool
    container_registry  = var.container_registry
    storage             = var.storage
    key_vault_uri       = var.key_vault_uri
    ml_workspace_name   = var.ml_workspace_name
    mlflow_tracking_uri = var.mlflow_tracking_uri
    osmo                = var.osmo
    gpu_price_per_hour  = var.gpu_price_per_hour
  }
}
