# Generated on every run but written only when administrator_password_version changes: write-only arguments keep
# it out of state and plan files.
ephemeral "random_password" "postgresql" {
  length           = 32
  special          = true
  override_special = "-_.~"
}

resource "azurerm_postgresql_flexible_server" "osmo" {
  name                              = var.names.postgresql_server
  location                          = var.location
  resource_group_name               = var.resource_group_name
  version                           = "16"
  sku_name                          = var.postgresql_sku
  storage_mb                        = var.postgresql_storage_mb
  auto_grow_enabled                 = true
  backup_retention_days             = 14
  delegated_subnet_id               = var.postgresql_subnet_id
  private_dns_zone_id               = var.postgresql_private_dns_zone_id
  public_network_access_enabled     = false
  administrator_login               = "osmoadmin"
  administrator_password_wo         = ephemeral.random_password.postgresql.result
  administrator_password_wo_version = var.administrator_password_version
  tags                              = var.tags

  authentication {
    active_directory_auth_enabled = true
    password_auth_enabled         = true
    tenant_id                     = var.tenant_id
  }

  lifecycle {
    # Azure picks a zone on create; pinning it afterwards would force a replacement.
    ignore_changes = [zone]
  }
}

# Flexible Server refuses CREATE EXTENSION for anything not allow-listed; OSMO's schema migrations create these.
resource "azurerm_postgresql_flexible_server_configuration" "extensions" {
  name      = "azure.extensions"
  server_id = azurerm_postgresql_flexible_server.osmo.id
  value     = "HSTORE,UUID-OSSP,PG_STAT_STATEMENTS"
}

resource "azurerm_postgresql_flexible_server_database" "osmo" {
  name      = "osmo"
  server_id = azurerm_postgresql_flexible_server.osmo.id
  charset   = "UTF8"
  collation = "en_US.utf8"

  depends_on = [azurerm_postgresql_flexible_server_configuration.extensions]
}

resource "azurerm_key_vault_secret" "postgresql_password" {
  name             = "osmo-postgresql-password"
  key_vault_id     = var.key_vault_id
  value_wo         = ephemeral.random_password.postgresql.result
  value_wo_version = var.administrator_password_version
  content_type     = "password"
  expiration_date  = timeadd(plantimestamp(), "8760h")

  lifecycle {
    ignore_changes = [expiration_date]
  }
}

resource "azurerm_managed_redis" "osmo" {
  name                  = var.names.managed_redis
  location              = var.location
  resource_group_name   = var.resource_group_name
  sku_name              = var.redis_sku
  public_network_access = "Disabled"
  tags                  = var.tags

  default_database {
    # OSMO's Redis client authenticates with an access key, stored in Key Vault below for its Helm chart.
    access_keys_authentication_enabled = true
    client_protocol                    = "Encrypted"
    eviction_policy                    = "NoEviction"
    # Fixed at creation. Azure's default, OSSCluster, answers with MOVED redirects that OSMO's client does not
    # follow; EnterpriseCluster presents one endpoint (the references use it for the same reason).
    clustering_policy = "EnterpriseCluster"
  }
}

# Write-only: the Key Vault secret's state holds no copy (the key is still readable from the Redis resource's state,
# which is why the state container is treated as a secret store, docs/infra.md). Bump redis_key_version after
# regenerating the key.
resource "azurerm_key_vault_secret" "redis_key" {
  name             = "osmo-redis-access-key"
  key_vault_id     = var.key_vault_id
  value_wo         = azurerm_managed_redis.osmo.default_database[0].primary_access_key
  value_wo_version = var.redis_key_version
  content_type     = "redis-access-key"
  expiration_date  = timeadd(plantimestamp(), "8760h")

  lifecycle {
    ignore_changes = [expiration_date]
  }
}

resource "azurerm_private_endpoint" "redis" {
  name                = "pe-${var.names.managed_redis}"
  location            = var.location
  resource_group_name = var.resource_group_name
  subnet_id           = var.private_endpoint_subnet_id
  tags                = var.tags

  private_service_connection {
    name                           = "psc-${var.names.managed_redis}"
    private_connection_resource_id = azurerm_managed_redis.osmo.id
    subresource_names              = ["redisEnterprise"]
    is_manual_connection           = false
  }

  dynamic "private_dns_zone_group" {
    for_each = var.redis_private_dns_zone_id == null ? [] : [var.redis_private_dns_zone_id]
    content {
      name                 = "redis"
      private_dns_zone_ids = [private_dns_zone_group.value]
    }
  }
}

# Connection and query errors of OSMO's database, and Redis connection events, for diagnosing a stuck control plane.
resource "azurerm_monitor_diagnostic_setting" "postgresql" {
  name                       = "diag-${var.names.postgresql_server}"
  target_resource_id         = azurerm_postgresql_flexible_server.osmo.id
  log_analytics_workspace_id = var.log_analytics_workspace_id

  enabled_log {
    category = "PostgreSQLLogs"
  }
  enabled_metric {
    category = "AllMetrics"
  }
}

# Connection logs live on the database (Microsoft.Cache/redisEnterprise/databases, category ConnectionEvents).
resource "azurerm_monitor_diagnostic_setting" "redis" {
  name                       = "diag-${var.names.managed_redis}"
  target_resource_id         = "${azurerm_managed_redis.osmo.id}/databases/default"
  log_analytics_workspace_id = var.log_analytics_workspace_id

  enabled_log {
    category = "ConnectionEvents"
  }
}
