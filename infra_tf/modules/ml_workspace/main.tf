# Azure ML keeps MLflow artifacts in its own account; it still signs some requests with the account key, so shared
# keys stay on here (and only here). Anonymous access is off and only TLS 1.2 is accepted.
resource "azurerm_storage_account" "workspace" {
  name                              = var.names.ml_storage_account
  location                          = var.location
  resource_group_name               = var.resource_group_name
  account_kind                      = "StorageV2"
  account_tier                      = "Standard"
  account_replication_type          = "ZRS"
  allow_nested_items_to_be_public   = false
  shared_access_key_enabled         = true
  min_tls_version                   = "TLS1_2"
  https_traffic_only_enabled        = true
  infrastructure_encryption_enabled = true
  cross_tenant_replication_enabled  = false
  tags                              = var.tags

  blob_properties {
    delete_retention_policy {
      days = 14
    }
  }

  # Any SAS that Azure ML hands out expires within a day.
  sas_policy {
    expiration_period = "01.00:00:00"
  }
}

resource "azurerm_machine_learning_workspace" "this" {
  name                          = var.names.machine_learning
  location                      = var.location
  resource_group_name           = var.resource_group_name
  application_insights_id       = var.application_insights_id
  key_vault_id                  = var.key_vault_id
  storage_account_id            = azurerm_storage_account.workspace.id
  container_registry_id         = var.container_registry_id
  public_network_access_enabled = var.public_network_access_enabled
  sku_name                      = "Basic"
  v1_legacy_mode_enabled        = false
  tags                          = var.tags

  identity {
    type = "SystemAssigned"
  }
}

# Who called the workspace (MLflow runs, model registry changes), for audits.
resource "azurerm_monitor_diagnostic_setting" "workspace" {
  name                       = "diag-${var.names.machine_learning}"
  target_resource_id         = azurerm_machine_learning_workspace.this.id
  log_analytics_workspace_id = var.log_analytics_workspace_id

  enabled_log {
    category_group = "allLogs"
  }
  enabled_metric {
    category = "AllMetrics"
  }
}
