data "azurerm_client_config" "current" {}

locals {
  global_location = var.global_location != "" ? var.global_location : sort(keys(var.regions))[0]
}

# Shared once for all regions: a global resource group and a geo-replicated registry.
module "global_naming" {
  source      = "./modules/naming"
  prefix      = var.prefix
  environment = var.environment
  instance    = var.instance
}

module "global_resource_group" {
  source   = "./modules/resource_group"
  name     = module.global_naming.names.resource_group
  location = local.global_location
  tags     = var.tags
}

module "container_registry" {
  source              = "./modules/container_registry"
  name                = module.global_naming.names.container_registry
  location            = local.global_location
  resource_group_name = module.global_resource_group.name
  replica_locations   = keys(var.regions)
  # Registry audit logs go to the workspace of the global location's region (else the first region by name).
  log_analytics_workspace_id = module.region[contains(keys(var.regions), local.global_location) ? local.global_location : sort(keys(var.regions))[0]].log_analytics_workspace_id
  tags                       = var.tags
}

# Multi-region is data: one stack per entry of var.regions.
module "region" {
  source   = "./modules/regional_stack"
  for_each = var.regions

  prefix                 = var.prefix
  environment            = var.environment
  instance               = var.instance
  location               = each.key
  region                 = each.value
  subscription_id        = var.subscription_id
  tenant_id              = data.azurerm_client_config.current.tenant_id
  deployer_object_id     = data.azurerm_client_config.current.object_id
  deployer_ip_ranges     = var.deployer_ip_ranges
  container_registry     = { id = module.container_registry.id, login_server = module.container_registry.login_server }
  trainer_image          = var.trainer_image
  admin_group_object_ids = var.admin_group_object_ids
  tags                   = var.tags
}
