output "id" {
  description = "Key Vault ID (available once the deployer holds Key Vault Secrets Officer: secrets written with it can be created)."
  value       = azurerm_key_vault.this.id
  depends_on  = [azurerm_role_assignment.deployer_secrets_officer]
}

output "name" {
  description = "Key Vault name."
  value       = azurerm_key_vault.this.name
}

output "uri" {
  description = "Key Vault URI (https://<name>.vault.azure.net/)."
  value       = azurerm_key_vault.this.vault_uri
}
