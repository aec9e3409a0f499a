output "id" {
  description = "Storage account ID."
  value       = azurerm_storage_account.this.id
}

output "name" {
  description = "Storage account name."
  value       = azurerm_storage_account.this.name
}

output "blob_endpoint" {
  description = "Primary blob endpoint (https://<name>.blob.core.windows.net/)."
  value       = azurerm_storage_account.this.primary_blob_endpoint
}

output "containers" {
  description = "Container names keyed by purpose: checkpoints, models, task_configs, pipes (and osmo when set)."
  value       = { for key, container in azurerm_storage_container.this : key => container.name }
}

output "container_scopes" {
  description = "ARM scopes of the containers keyed by purpose, for container-level role assignments."
  value       = { for key, container in azurerm_storage_container.this : key => "${azurerm_storage_account.this.id}/blobServices/default/containers/${container.name}" }
}
