output "postgresql_fqdn" {
  description = "PostgreSQL host name (private)."
  value       = azurerm_postgresql_flexible_server.osmo.fqdn
}

output "postgresql_password_secret_id" {
  description = "Key Vault secret (versionless ID) holding the PostgreSQL admin password."
  value       = azurerm_key_vault_secret.postgresql_password.versionless_id
}

output "redis_hostname" {
  description = "Managed Redis host name (private)."
  value       = azurerm_managed_redis.osmo.hostname
}

output "redis_key_secret_id" {
  description = "Key Vault secret (versionless ID) holding the Managed Redis access key."
  value       = azurerm_key_vault_secret.redis_key.versionless_id
}
