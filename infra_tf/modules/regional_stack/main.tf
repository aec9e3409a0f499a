# One region of the platform. The root instantiates this once per entry of var.regions: regions are data.

module "naming" {
  source      = "../naming"
  prefix      = var.prefix
  environment = var.environment
  location    = var.location
  instance    = var.instance
}

module "gpu_node_pools" {
  source             = "../gpu_node_pools"
  pools              = var.region.gpu_node_pools
  default_pool       = var.region.default_gpu_pool
  gpu_price_per_hour = var.region.gpu_price_per_hour
}

locals {
  names   = module.naming.names
  tags    = merge(var.tags, { region = var.location })
  private = var.region.should_create_private_endpoints
  osmo    = var.region.should_deploy_osmo_dependencies
  # The deployer writes Key Vault secrets through the vault firewall (and reads nothing else on the data plane).
  allowed_ip_ranges = distinct(concat(var.region.allowed_ip_ranges, var.deployer_ip_ranges))
  osmo_workflow = {
    namespace       = var.region.osmo_workflow_namespace
    service_account = "osmo-workflow"
  }
}

module "resource_group" {
  source   = "../resource_group"
  name     = local.names.resource_group
  location = var.location
  tags     = local.tags
}

module "networking" {
  source                          = "../networking"
  names                           = local.names
  location                        = var.location
  resource_group_name             = module.resource_group.name
  address_space                   = var.region.address_space
  zones                           = var.region.zones
  should_create_postgresql_subnet = local.osmo
  should_create_private_dns_zones = local.private || local.osmo
  tags                            = local.tags
}

module "monitoring" {
  source              = "../monitoring"
  names               = local.names
  location            = var.location
  resource_group_name = module.resource_group.name
  retention_in_days   = var.region.log_retention_days
  alert_emails        = var.region.alert_emails
  # AMPLS with the other private endpoints (its zones include the shared blob zone).
  should_create_private_endpoint = local.private
  private_endpoint_subnet_id     = module.networking.private_endpoints_subnet_id
  private_dns_zone_ids = local.private ? [
    for zone in ["monitor", "oms", "ods", "agentsvc", "blob"] : module.networking.private_dns_zone_ids[zone]
  ] : []
  tags = local.tags
}

module "storage" {
  source                         = "../storage"
  name                           = local.names.storage_account
  location                       = var.location
  resource_group_name            = module.resource_group.name
  replication_type               = var.region.storage_replication_type
  containers                     = { osmo = local.osmo ? "osmo" : null }
  lifecycle_policy               = var.region.storage_lifecycle
  log_analytics_workspace_id     = module.monitoring.log_analytics_workspace_id
  allowed_subnet_ids             = [module.networking.aks_nodes_subnet_id]
  allowed_ip_ranges              = local.allowed_ip_ranges
  should_create_private_endpoint = local.private
  private_endpoint_subnet_id     = module.networking.private_endpoints_subnet_id
  private_dns_zone_id            = lookup(module.networking.private_dns_zone_ids, "blob", null)
  tags                           = local.tags
}

module "key_vault" {
  source                         = "../key_vault"
  name                           = local.names.key_vault
  location                       = var.location
  resource_group_name            = module.resource_group.name
  tenant_id                      = var.tenant_id
  deployer_object_id             = var.deployer_object_id
  log_analytics_workspace_id     = module.monitoring.log_analytics_workspace_id
  allowed_subnet_ids             = [module.networking.aks_nodes_subnet_id]
  allowed_ip_ranges              = local.allowed_ip_ranges
  should_create_private_endpoint = local.private
  private_endpoint_subnet_id     = module.networking.private_endpoints_subnet_id
  private_dns_zone_id            = lookup(module.networking.private_dns_zone_ids, "vault", null)
  tags                           = local.tags
}

module "aks" {
  source                     = "../aks"
  name                       = local.names.kubernetes_cluster
  location                   = var.location
  resource_group_name        = module.resource_group.name
  kubernetes_version         = var.region.kubernetes_version
  sku_tier                   = var.region.aks_sku_tier
  system_pool                = var.region.system_pool
  gpu_node_pools             = module.gpu_node_pools.node_pools
  vnet_subnet_id             = module.networking.aks_nodes_subnet_id
  virtual_network_id         = module.networking.virtual_network_id
  log_analytics_workspace_id = module.monitoring.log_analytics_workspace_id
  prometheus = {
    data_collection_rule_id     = module.monitoring.prometheus_data_collection_rule_id
    data_collection_endpoint_id = module.monitoring.prometheus_data_collection_endpoint_id
  }
  container_insights_data_collection_rule_id = module.monitoring.container_insights_data_collection_rule_id
  tenant_id                                  = var.tenant_id
  admin_group_object_ids                     = var.admin_group_object_ids
  authorized_ip_ranges                       = var.region.authorized_ip_ranges
  tags                                       = local.tags
}

module "ml_workspace" {
  source                        = "../ml_workspace"
  names                         = local.names
  location                      = var.location
  resource_group_name           = module.resource_group.name
  key_vault_id                  = module.key_vault.id
  application_insights_id       = module.monitoring.application_insights_id
  container_registry_id         = var.container_registry.id
  log_analytics_workspace_id    = module.monitoring.log_analytics_workspace_id
  public_network_access_enabled = !local.private
  tags                          = local.tags
}

# Behind should_create_private_endpoints (storage and Key Vault get theirs in their modules): the global registry
# (kubelet pulls stay in the VNet) and the Azure ML workspace (MLflow tracking).
module "registry_endpoint" {
  source               = "../private_endpoint"
  count                = local.private ? 1 : 0
  name                 = "pe-${local.names.kubernetes_cluster}-acr"
  location             = var.location
  resource_group_name  = module.resource_group.name
  subnet_id            = module.networking.private_endpoints_subnet_id
  resource_id          = var.container_registry.id
  subresource          = "registry"
  private_dns_zone_ids = [module.networking.private_dns_zone_ids["registry"]]
  tags                 = local.tags
}

module "ml_workspace_endpoint" {
  source               = "../private_endpoint"
  count                = local.private ? 1 : 0
  name                 = "pe-${local.names.machine_learning}"
  location             = var.location
  resource_group_name  = module.resource_group.name
  subnet_id            = module.networking.private_endpoints_subnet_id
  resource_id          = module.ml_workspace.id
  subresource          = "amlworkspace"
  private_dns_zone_ids = [module.networking.private_dns_zone_ids["azureml"], module.networking.private_dns_zone_ids["notebooks"]]
  tags                 = local.tags
}

module "identities" {
  source                       = "../identities"
  names                        = local.names
  location                     = var.location
  resource_group_name          = module.resource_group.name
  oidc_issuer_url              = module.aks.oidc_issuer_url
  training_namespace           = var.training_namespace
  training_domains             = var.region.training_domains
  orchestrator_service_account = var.orchestrator_service_account
  kubelet_object_id            = module.aks.kubelet_object_id
  tags                         = local.tags
  osmo = local.osmo ? {
    bucket_scope             = module.storage.container_scopes["osmo"]
    workflow_namespace       = local.osmo_workflow.namespace
    workflow_service_account = local.osmo_workflow.service_account
  } : null
  scopes = {
    storage_containers = {
      for key in ["checkpoints", "models", "task_configs", "pipes"] : key => module.storage.container_scopes[key]
    }
    key_vault_id          = module.key_vault.id
    container_registry_id = var.container_registry.id
    ml_workspace_id       = module.ml_workspace.id
    aks_cluster_id        = module.aks.id
  }
}

module "osmo_dependencies" {
  source                         = "../osmo_dependencies"
  count                          = local.osmo ? 1 : 0
  names                          = local.names
  location                       = var.location
  resource_group_name            = module.resource_group.name
  tenant_id                      = var.tenant_id
  postgresql_subnet_id           = module.networking.postgresql_subnet_id
  postgresql_private_dns_zone_id = module.networking.private_dns_zone_ids["postgresql"]
  key_vault_id                   = module.key_vault.id
  private_endpoint_subnet_id     = module.networking.private_endpoints_subnet_id
  redis_private_dns_zone_id      = module.networking.private_dns_zone_ids["redis"]
  log_analytics_workspace_id     = module.monitoring.log_analytics_workspace_id
  tags                           = local.tags
}

# Kubernetes objects applied after `terraform apply` (scripts/post_apply.sh): service accounts with their
# identities, the orchestrator's pods-only Role, the trainers' egress NetworkPolicy, the DCGM scrape config.
module "cluster_manifests" {
  source             = "../cluster_manifests"
  training_namespace = var.training_namespace
  training_domains = {
    for domain, d in module.identities.training_domains : domain => {
      service_account = d.service_account, identity_client_id = d.identity_client_id
    }
  }
  orchestrator = {
    principal_id       = module.identities.orchestrator_principal_id
    namespace          = var.orchestrator_service_account.namespace
    service_account    = var.orchestrator_service_account.name
    identity_client_id = module.identities.orchestrator_client_id
  }
  osmo = local.osmo ? {
    workflow_namespace       = local.osmo_workflow.namespace
    workflow_service_account = local.osmo_workflow.service_account
    identity_client_id       = module.identities.training_client_id
  } : null
  private_endpoint_cidrs = local.private ? [module.networking.private_endpoints_cidr] : []
  allow_public_https     = var.region.trainer_public_https
}

module "region_outputs" {
  source          = "../region_outputs"
  location        = var.location
  subscription_id = var.subscription_id
  resource_group  = module.resource_group.name
  aks = {
    id                              = module.aks.id
    cluster_name                    = module.aks.name
    oidc_issuer_url                 = module.aks.oidc_issuer_url
    kubernetes_version              = module.aks.kubernetes_version
    namespace                       = var.training_namespace
    training_service_account        = module.identities.training_service_account
    training_identity_client_id     = module.identities.training_client_id
    training_domains                = module.identities.training_domains
    orchestrator_namespace          = var.orchestrator_service_account.namespace
    orchestrator_service_account    = var.orchestrator_service_account.name
    orchestrator_identity_client_id = module.identities.orchestrator_client_id
  }
  gpu_node_pools   = module.gpu_node_pools.contract
  default_gpu_pool = module.gpu_node_pools.default_pool
  container_registry = {
    login_server  = var.container_registry.login_server
    trainer_image = "${var.container_registry.login_server}/${var.trainer_image.repository}:${var.trainer_image.tag}"
  }
  storage = {
    account_name  = module.storage.name
    blob_endpoint = module.storage.blob_endpoint
    containers    = { for key in ["checkpoints", "models", "task_configs", "pipes"] : key => module.storage.containers[key] }
  }
  key_vault_uri       = module.key_vault.uri
  ml_workspace_name   = module.ml_workspace.name
  mlflow_tracking_uri = module.ml_workspace.mlflow_tracking_uri
  osmo = {
    enabled                  = local.osmo
    pool                     = local.osmo ? coalesce(var.region.osmo_pool, "azure-${var.location}-gpu") : null
    service_url              = local.osmo ? var.region.osmo_service_url : null
    identity_client_id       = module.identities.osmo_client_id
    bucket                   = local.osmo ? module.storage.containers["osmo"] : null
    workflow_namespace       = local.osmo ? local.osmo_workflow.namespace : null
    workflow_service_account = local.osmo ? local.osmo_workflow.service_account : null
  }
  gpu_price_per_hour = module.gpu_node_pools.gpu_price_per_hour
}
