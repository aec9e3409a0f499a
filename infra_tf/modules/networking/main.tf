locals {
  # /16 -> AKS nodes get a /20 (CNI overlay: pods do not consume VNet addresses), endpoints and PostgreSQL a /24 each.
  subnet_prefixes = {
    aks_nodes         = cidrsubnet(var.address_space, 4, 0)
    private_endpoints = cidrsubnet(var.address_space, 8, 16)
    postgresql        = cidrsubnet(var.address_space, 8, 17)
  }
  private_dns_zones = var.should_create_private_dns_zones ? {
    blob       = "privatelink.blob.core.windows.net"
    vault      = "privatelink.vaultcore.azure.net"
    registry   = "privatelink.azurecr.io"
    azureml    = "privatelink.api.azureml.ms"
    notebooks  = "privatelink.notebooks.azure.net"
    monitor    = "privatelink.monitor.azure.com"
    oms        = "privatelink.oms.opinsights.azure.com"
    ods        = "privatelink.ods.opinsights.azure.com"
    agentsvc   = "privatelink.agentsvc.azure-automation.net"
    postgresql = "privatelink.postgres.database.azure.com"
    redis      = "privatelink.redis.azure.net"
  } : {}
}

resource "azurerm_virtual_network" "this" {
  name                = var.names.virtual_network
  location            = var.location
  resource_group_name = var.resource_group_name
  address_space       = [var.address_space]
  tags                = var.tags
}

resource "azurerm_subnet" "aks_nodes" {
  name                 = "snet-aks-nodes"
  resource_group_name  = var.resource_group_name
  virtual_network_name = azurerm_virtual_network.this.name
  address_prefixes     = [local.subnet_prefixes.aks_nodes]
  # Service endpoints let the storage account and Key Vault firewalls admit the cluster without public access.
  service_endpoints = ["Microsoft.Storage", "Microsoft.KeyVault", "Microsoft.ContainerRegistry"]
  # Egress goes through the NAT gateway only.
  default_outbound_access_enabled = false
}

resource "azurerm_subnet" "private_endpoints" {
  name                              = "snet-private-endpoints"
  resource_group_name               = var.resource_group_name
  virtual_network_name              = azurerm_virtual_network.this.name
  address_prefixes                  = [local.subnet_prefixes.private_endpoints]
  private_endpoint_network_policies = "Enabled"
  default_outbound_access_enabled   = false
}

resource "azurerm_subnet" "postgresql" {
  count                           = var.should_create_postgresql_subnet ? 1 : 0
  name                            = "snet-postgresql"
  resource_group_name             = var.resource_group_name
  virtual_network_name            = azurerm_virtual_network.this.name
  address_prefixes                = [local.subnet_prefixes.postgresql]
  default_outbound_access_enabled = false

  delegation {
    name = "postgresql-flexible-server"
    service_delegation {
      name    = "Microsoft.DBforPostgreSQL/flexibleServers"
      actions = ["Microsoft.Network/virtualNetworks/subnets/join/action"]
    }
  }
}

# No custom rules: Azure's defaults deny inbound from the internet and AKS manages its own load-balancer rules.
resource "azurerm_network_security_group" "this" {
  name                = var.names.network_security_group
  location            = var.location
  resource_group_name = var.resource_group_name
  tags                = var.tags
}

resource "azurerm_subnet_network_security_group_association" "aks_nodes" {
  subnet_id                 = azurerm_subnet.aks_nodes.id
  network_security_group_id = azurerm_network_security_group.this.id
}

resource "azurerm_subnet_network_security_group_association" "private_endpoints" {
  subnet_id                 = azurerm_subnet.private_endpoints.id
  network_security_group_id = azurerm_network_security_group.this.id
}

resource "azurerm_subnet_network_security_group_association" "postgresql" {
  count                     = var.should_create_postgresql_subnet ? 1 : 0
  subnet_id                 = azurerm_subnet.postgresql[0].id
  network_security_group_id = azurerm_network_security_group.this.id
}

resource "azurerm_public_ip" "nat" {
  name                = var.names.nat_public_ip
  location            = var.location
  resource_group_name = var.resource_group_name
  allocation_method   = "Static"
  sku                 = "Standard"
  zones               = var.zones
  tags                = var.tags
}

resource "azurerm_nat_gateway" "this" {
  name                    = var.names.nat_gateway
  location                = var.location
  resource_group_name     = var.resource_group_name
  sku_name                = "Standard"
  idle_timeout_in_minutes = 10
  zones                   = var.zones
  tags                    = var.tags
}

resource "azurerm_nat_gateway_public_ip_association" "this" {
  nat_gateway_id       = azurerm_nat_gateway.this.id
  public_ip_address_id = azurerm_public_ip.nat.id
}

resource "azurerm_subnet_nat_gateway_association" "aks_nodes" {
  subnet_id      = azurerm_subnet.aks_nodes.id
  nat_gateway_id = azurerm_nat_gateway.this.id
}

resource "azurerm_private_dns_zone" "this" {
  for_each            = local.private_dns_zones
  name                = each.value
  resource_group_name = var.resource_group_name
  tags                = var.tags
}

resource "azurerm_private_dns_zone_virtual_network_link" "this" {
  for_each              = local.private_dns_zones
  name                  = "link-${var.names.virtual_network}"
  resource_group_name   = var.resource_group_name
  private_dns_zone_name = azurerm_private_dns_zone.this[each.key].name
  virtual_network_id    = azurerm_virtual_network.this.id
  registration_enabled  = false
  tags                  = var.tags
}
