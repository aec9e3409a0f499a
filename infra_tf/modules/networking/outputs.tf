output "virtual_network_id" {
  description = "VNet ID."
  value       = azurerm_virtual_network.this.id
}

output "aks_nodes_subnet_id" {
  description = "Subnet of the AKS node pools (egress through the NAT gateway)."
  value       = azurerm_subnet.aks_nodes.id
}

output "private_endpoints_subnet_id" {
  description = "Subnet for private endpoints."
  value       = azurerm_subnet.private_endpoints.id
}

output "postgresql_subnet_id" {
  description = "Subnet delegated to PostgreSQL Flexible Server (null unless should_create_postgresql_subnet)."
  value       = try(azurerm_subnet.postgresql[0].id, null)
}

output "private_dns_zone_ids" {
  description = "Private DNS zone IDs keyed by service: blob, vault, registry, azureml, notebooks, monitor, oms, ods, agentsvc, postgresql, redis (empty when not created)."
  value       = { for key, zone in azurerm_private_dns_zone.this : key => zone.id }
}

output "nat_gateway_id" {
  description = "NAT gateway that carries the cluster's egress."
  value       = azurerm_nat_gateway.this.id
}

output "address_space" {
  description = "The VNet's CIDR."
  value       = var.address_space
}

output "private_endpoints_cidr" {
  description = "CIDR of the private endpoint subnet (trainer egress is allowed there on 443)."
  value       = local.subnet_prefixes.private_endpoints
}
