# `terraform init && terraform apply -auto-approve && terraform output -json regions > ../regions.sample.json`
# and `terraform output -json cluster_manifests > ../cluster_manifests.sample.json`
# (tests/infra does this in a temporary copy and compares both with the committed samples).

locals {
  prefix      = "robotics"
  environment = "dev"

  # The same data a real root gets in var.regions (see ../../terraform.tfvars.example).
  regions = {
    eastus = {
      address_space = "10.40.0.0/16"
      gpu_node_pools = {
        gpuspot = { vm_size = "Standard_NC24ads_A100_v4", priority = "Spot", min_count = 0, max_count = 4 }
      }
      default_gpu_pool = ""
      osmo             = true
      osmo_service_url = "https://osmo.example.com"
      tenant_segment   = "00000000-0000-0000-0000-000000000000"
      client_id        = "11111111-1111-1111-1111-111111111111"
      training_domains = { default = { tasks = ["*"] } }
      private          = false
    }
    westeurope = {
      address_space = "10.41.0.0/16"
      gpu_node_pools = {
        gpuspot = { vm_size = "Standard_NC24ads_A100_v4", priority = "Spot", min_count = 0, max_count = 2 }
        h100    = { vm_size = "Standard_NC40ads_H100_v5", priority = "Regular", min_count = 0, max_count = 1 }
      }
      default_gpu_pool = "gpuspot"
      osmo             = false
      osmo_service_url = null
      tenant_segment   = "00000000-0000-0000-0000-000000000000"
      client_id        = "22222222-2222-2222-2222-222222222222"
      training_domains = { default = { tasks = ["*"] }, teama = { tasks = ["anymal-*"] } }
      private          = true
    }
  }
  subscription_id = "00000000-0000-0000-0000-000000000000"
  subscription    = "/subscriptions/${local.subscription_id}"
  # Stand-ins for identity IDs Azure assigns at apply time: deterministic per region and purpose.
  ids = {
    for region in keys(local.regions) : region => {
      for purpose in ["orchestrator", "orchestrator-principal", "osmo", "teama"] : purpose => format(
        "%s-%s-%s-%s-%s", substr(sha1("${region}/${purpose}"), 0, 8), substr(sha1("${region}/${purpose}"), 8, 4),
        substr(sha1("${region}/${purpose}"), 12, 4), substr(sha1("${region}/${purpose}"), 16, 4), substr(sha1("${region}/${purpose}"), 20, 12),
      )
    }
  }
  training_domains = {
    for region, r in local.regions : region => {
      for domain, d in r.training_domains : domain => {
        service_account    = module.training_domains[region].service_accounts[domain]
        identity_client_id = domain == "default" ? r.client_id : local.ids[region][domain]
        tasks              = d.tasks
      }
    }
  }
}

module "training_domains" {
  source           = "../../modules/training_domains"
  for_each         = local.regions
  training_domains = each.value.training_domains
}

module "cluster_manifests" {
  source   = "../../modules/cluster_manifests"
  for_each = local.regions
  training_domains = {
    for domain, d in local.training_domains[each.key] : domain => {
      service_account = d.service_account, identity_client_id = d.identity_client_id
    }
  }
  orchestrator = {
    principal_id       = local.ids[each.key]["orchestrator-principal"]
    namespace          = "dagster"
    service_account    = "dagster"
    identity_client_id = local.ids[each.key]["orchestrator"]
  }
  osmo = each.value.osmo ? {
    workflow_namespace = "osmo-workflows", workflow_service_account = "osmo-workflow", identity_client_id = each.value.client_id
  } : null
  private_endpoint_cidrs = each.value.private ? [cidrsubnet(each.value.address_space, 8, 16)] : []
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
  source          = "../../modules/region_outputs"
  for_each        = local.regions
  location        = each.key
  subscription_id = local.subscription_id
  resource_group  = module.naming[each.key].names.resource_group
  aks = {
    id                              = "${local.subscription}/resourceGroups/${module.naming[each.key].names.resource_group}/providers/Microsoft.ContainerService/managedClusters/${module.naming[each.key].names.kubernetes_cluster}"
    cluster_name                    = module.naming[each.key].names.kubernetes_cluster
    oidc_issuer_url                 = "https://${each.key}.oic.prod-aks.azure.com/${each.value.tenant_segment}/${each.value.client_id}/"
    kubernetes_version              = "1.33"
    namespace                       = "robotics"
    training_service_account        = module.training_domains[each.key].service_accounts["default"]
    training_identity_client_id     = each.value.client_id
    training_domains                = local.training_domains[each.key]
    orchestrator_namespace          = "dagster"
    orchestrator_service_account    = "dagster"
    orchestrator_identity_client_id = local.ids[each.key]["orchestrator"]
  }
  gpu_node_pools   = module.gpu_node_pools[each.key].contract
  default_gpu_pool = module.gpu_node_pools[each.key].default_pool
  container_registry = {
    login_server  = "${module.global_naming.names.container_registry}.azurecr.io"
    trainer_image = "${module.global_naming.names.container_registry}.azurecr.io/robotics-trainer:0.1.0"
  }
  storage = {
    account_name  = module.naming[each.key].names.storage_account
    blob_endpoint = "https://${module.naming[each.key].names.storage_account}.blob.core.windows.net/"
    containers    = { checkpoints = "checkpoints", models = "models", task_configs = "task-configs", pipes = "pipes" }
  }
  key_vault_uri     = "https://${module.naming[each.key].names.key_vault}.vault.azure.net/"
  ml_workspace_name = module.naming[each.key].names.machine_learning
  mlflow_tracking_uri = join("", [
    "azureml://${each.key}.api.azureml.ms/mlflow/v1.0${local.subscription}",
    "/resourceGroups/${module.naming[each.key].names.resource_group}",
    "/providers/Microsoft.MachineLearningServices/workspaces/${module.naming[each.key].names.machine_learning}",
  ])
  osmo = {
    enabled                  = each.value.osmo
    pool                     = each.value.osmo ? "azure-${each.key}-gpu" : null
    service_url              = each.value.osmo_service_url
    identity_client_id       = each.value.osmo ? local.ids[each.key]["osmo"] : null
    bucket                   = each.value.osmo ? "osmo" : null
    workflow_namespace       = each.value.osmo ? "osmo-workflows" : null
    workflow_service_account = each.value.osmo ? "osmo-workflow" : null
  }
  gpu_price_per_hour = module.gpu_node_pools[each.key].gpu_price_per_hour
}

output "regions" {
  description = "Same shape as the real root's `regions` output."
  value       = { for name, region in module.region_outputs : name => region.settings }
}

output "cluster_manifests" {
  description = "Same shape as the real root's `cluster_manifests` output."
  value       = { for name, region in module.cluster_manifests : name => region.yaml }
}
