# Runs offline: `terraform init && terraform test` in this folder (no provider needed).
variables {
  location        = "eastus"
  subscription_id = "00000000-0000-0000-0000-000000000000"
  resource_group  = "rg-robotics-dev-eastus-001"
  aks = {
    id                          = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-robotics-dev-eastus-001/providers/Microsoft.ContainerService/managedClusters/aks-robotics-dev-eastus-001"
    cluster_name                = "aks-robotics-dev-eastus-001"
    oidc_issuer_url             = "https://eastus.oic.prod-aks.azure.com/tenant/issuer/"
    kubernetes_version          = "1.33"
    namespace                   = "robotics"
    training_service_account    = "robotics-trainer"
    training_identity_client_id = "00000000-0000-0000-0000-000000000001"
    training_domains = {
      default = { service_account = "robotics-trainer", identity_client_id = "00000000-0000-0000-0000-000000000001", tasks = ["*"] }
    }
    orchestrator_namespace          = "dagster"
    orchestrator_service_account    = "dagster"
    orchestrator_identity_client_id = "00000000-0000-0000-0000-000000000002"
  }
  gpu_node_pools   = {}
  default_gpu_pool = null
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
  ml_workspace_name   = "mlw-robotics-dev-eastus-001"
  mlflow_tracking_uri = "azureml://eastus.api.azureml.ms/mlflow/v1.0/x"
  osmo = {
    enabled            = false, pool = null, service_url = null, identity_client_id = null, bucket = null,
    workflow_namespace = null, workflow_service_account = null
  }
}

run "every_contract_key_is_present" {
  command = apply

  assert {
    condition = toset(keys(output.settings)) == toset([
      "location", "subscription_id", "resource_group", "aks", "gpu_node_pools", "default_gpu_pool",
      "container_registry", "storage", "key_vault_uri", "ml_workspace_name", "mlflow_tracking_uri", "osmo",
      "gpu_price_per_hour",
    ])
    error_message = "the region settings must have exactly the keys of docs/architecture.md"
  }
  assert {
    condition     = output.settings.osmo.pool == null && output.settings.gpu_price_per_hour == null && output.settings.default_gpu_pool == null
    error_message = "unused parts stay present as null"
  }
}

run "default_pool_must_exist" {
  command = plan

  variables {
    default_gpu_pool = "gpuspot"
  }

  expect_failures = [var.default_gpu_pool]
}

run "enabled_osmo_needs_a_pool" {
  command = plan

  variables {
    osmo = {
      enabled            = true, pool = "", service_url = null, identity_client_id = "x", bucket = "osmo",
      workflow_namespace = "osmo-workflows", workflow_service_account = "osmo-workflow"
    }
  }

  expect_failures = [var.osmo]
}

run "enabled_osmo_needs_its_identity_and_bucket" {
  command = plan

  variables {
    osmo = {
      enabled            = true, pool = "azure-eastus-gpu", service_url = null, identity_client_id = null, bucket = null,
      workflow_namespace = "osmo-workflows", workflow_service_account = "osmo-workflow"
    }
  }

  expect_failures = [var.osmo]
}
