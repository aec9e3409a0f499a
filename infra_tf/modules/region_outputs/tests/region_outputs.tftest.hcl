# Runs offline: `terraform init && terraform test` in this folder (no provider needed).
variables {
  location       = "eastus"
  resource_group = "rg-robotics-dev-eastus-001"
  aks = {
    cluster_name                = "aks-robotics-dev-eastus-001"
    oidc_issuer_url             = "https://eastus.oic.prod-aks.azure.com/tenant/issuer/"
    namespace                   = "robotics"
    training_service_account    = "robotics-trainer"
    training_identity_client_id = "00000000-0000-0000-0000-000000000001"
    kubernetes_version          = "1.33"
  }
  gpu_node_pools = {}
  container_registry = {
    login_server  = "crroboticsdevglb001.azurecr.io"
    trainer_image = "crroboticsdevglb001.azurecr.io/robotics-trainer:0.1.0"
  }
  storage = {
    account_name  = "stroboticsdeveus001"
    blob_endpoint = "https://stroboticsdeveus001.blob.core.windows.net/"
    containers    = { checkpoints = "checkpoints", models = "models", task_configs = "task-configs", pipes = "pipes" }
  }
  key_vault_uri       = "https://kv-robotics-dev-eus-001.vault.azure.net/"
  mlflow_tracking_uri = "azureml://eastus.api.azureml.ms/mlflow/v1.0/x"
  osmo                = { enabled = false, pool = null, service_url = null }
}

run "every_contract_key_is_present" {
  command = apply

  assert {
    condition = toset(keys(output.settings)) == toset([
      "location", "resource_group", "aks", "gpu_node_pools", "container_registry", "storage", "key_vault_uri",
      "mlflow_tracking_uri", "osmo", "gpu_price_per_hour",
    ])
    error_message = "the region settings must have exactly the keys of docs/architecture.md"
  }
  assert {
    condition     = output.settings.osmo.pool == null && output.settings.gpu_price_per_hour == null
    error_message = "unused parts stay present as null"
  }
}

run "enabled_osmo_needs_a_pool" {
  command = plan

  variables {
    osmo = { enabled = true, pool = "", service_url = null }
  }

  expect_failures = [var.osmo]
}
