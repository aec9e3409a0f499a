output "id" {
  description = "Private endpoint ID."
  value       = azurerm_private_endpoint.this.id
}
