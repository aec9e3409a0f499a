# `terraform init && terraform apply -auto-approve && terraform output -json regions > ../regions.sample.json`
# (tests/infra does this in a temporary copy and compares with the committed sample).

locals {
  prefix      = "robotics"
  environment = "dev"

  # The same data a real root gets in var.regions (see ../../terraform.tfvars.example).
  regions = {
    eastus = {
      gpu_node_pools = {
        gpuspot = { vm_size = "Standard_NC24ads_A100_v4", priority = "Spot", min_count = 0, max_count = 4 }
      }
      default_gpu_pool = ""
      osmo             = true
      osmo_service_url = "https://osmo.example.com"
      tenant_segment   = "00000000-0000-0000-0000-000000000000"
      client_id        = "11111111-1111-1111-1111-111111111111"
    }
    westeurope = {
      gpu_node_pools = {
        gpuspot = { vm_size = "Standard_NC24ads_A100_v4", priority = "Spot", min_count = 0, max_count = 2 }
        h100    = { vm_size = "Standard_NC40ads_H100_v5", priority = "Regular", min_count = 0, max_count = 1 }
      }
      default_gpu_pool = "gpuspot"
      osmo             = false
      osmo_service_url = null
      tenant_segment   = "00000000-0000-0000-0000-000000000000"
      client_id        = "22222222-2222-2222-2222-222222222222"
    }
  }
  subscription = "/subscriptions/00000000-0000-0000-0000-000000000000"
}

module "global_naming" {
  source      = "../../modules/naming"
  prefix      = local.prefix
  environment = local.environment
}

module "naming" {
  source      = "../../modules/naming"
  for_each    = local.regions
  prefix      = local.prefix
  environment = local.environment
  location    = each.key
}

module "gpu_node_pools" {
  source       = "../../modules/gpu_node_pools"
  for_each     = local.regions
  pools        = each.value.gpu_node_pools
  default_pool = each.value.default_gpu_pool
}

module "region_outputs" {
  source         = "../../modules/region_outputs"
  for_each       = local.regions
  location       = each.key
  resource_group = module.naming[each.key].names.resource_group
  aks = {
    cluster_name                = module.naming[each.key].names.kubernetes_cluster
    oidc_issuer_url             = "https://${each.key}.oic.prod-aks.azure.com/${each.value.tenant_segment}/${each.value.client_id}/"
    namespace                   = "robotics"
    training_service_account    = "robotics-trainer"
    training_identity_client_id = each.value.client_id
    kubernetes_version          = "1.33"
  }
  gpu_node_pools = module.gpu_node_pools[each.key].contract
  container_registry = {
    login_server  = "${module.global_naming.names.container_registry}.azurecr.io"
    trainer_image = "${module.global_naming.names.container_registry}.azurecr.io/robotics-trainer:0.1.0"
  }
  storage = {
    account_name  = module.naming[each.key].names.storage_account
    blob_endpoint = "https://${module.naming[each.key].names.storage_account}.blob.core.windows.net/"
    containers    = { checkpoints = "checkpoints", models = "models", task_configs = "task-configs", pipes = "pipes" }
  }
  key_vault_uri = "https://${module.naming[each.key].names.key_vault}.vault.azure.net/"
  mlflow_tracking_uri = join("", [
    "azureml://${each.key}.api.azureml.ms/mlflow/v1.0${local.subscription}",
    "/resourceGroups/${module.naming[each.key].names.resource_group}",
    "/providers/Microsoft.MachineLearningServices/workspaces/${module.naming[each.key].names.machine_learning}",
  ])
  osmo = {
    enabled     = each.value.osmo
    pool        = each.value.osmo ? "azure-${each.key}-gpu" : null
    service_url = each.value.osmo_service_url
  }
  gpu_price_per_hour = module.gpu_node_pools[each.key].gpu_price_per_hour
}

output "regions" {
  description = "Same shape as the real root's `regions` output."
  value       = { for name, region in module.region_outputs : name => region.settings }
}
