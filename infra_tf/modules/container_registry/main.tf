# One registry for every region (Premium for geo-replication): the same image digest trains everywhere.
resource "azurerm_container_registry" "this" {
  name                          = var.name
  location                      = var.location
  resource_group_name           = var.resource_group_name
  sku                           = "Premium"
  admin_enabled                 = false
  anonymous_pull_enabled        = false
  public_network_access_enabled = var.public_network_access_enabled
  zone_redundancy_enabled       = true
  retention_policy_in_days      = 7
  quarantine_policy_enabled     = false
  trust_policy_enabled          = false
  data_endpoint_enabled         = true
  export_policy_enabled         = var.public_network_access_enabled

  dynamic "georeplications" {
    for_each = toset([for location in var.replica_locations : location if location != var.location])
    content {
      location                = georeplications.value
      zone_redundancy_enabled = true
      tags                    = var.tags
    }
  }

  tags = var.tags
}

# Pushes, pulls and logins (who pulled which image), in the global region's Log Analytics workspace.
resource "azurerm_monitor_diagnostic_setting" "registry" {
  count                      = var.log_analytics_workspace_id == null ? 0 : 1
  name                       = "diag-${var.name}"
  target_resource_id         = azurerm_container_registry.this.id
  log_analytics_workspace_id = var.log_analytics_workspace_id

  enabled_log {
    category_group = "allLogs"
  }
  enabled_metric {
    category = "AllMetrics"
  }
}
