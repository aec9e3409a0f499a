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
  tags                = var.tags
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
  tenant_id              = data.azurerm_client_config.current.tenant_id
  container_registry     = { id = module.container_registry.id, login_server = module.container_registry.login_server }
  trainer_image          = var.trainer_image
  admin_group_object_ids = var.admin_group_object_ids
  tags                   = var.tags
}
