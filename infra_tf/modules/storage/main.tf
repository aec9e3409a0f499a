resource "azurerm_storage_account" "this" {
  name                     = var.name
  location                 = var.location
  resource_group_name      = var.resource_group_name
  account_kind             = "StorageV2"
  account_tier             = "Standard"
  account_replication_type = var.replication_type

  # No anonymous reads, no shared keys: every client authenticates with Entra ID (workload identity in AKS).
  allow_nested_items_to_be_public   = false
  shared_access_key_enabled         = false
  default_to_oauth_authentication   = true
  local_user_enabled                = false
  public_network_access_enabled     = !var.should_create_private_endpoint
  https_traffic_only_enabled        = true
  min_tls_version                   = "TLS1_2"
  infrastructure_encryption_enabled = true
  cross_tenant_replication_enabled  = false

  network_rules {
    default_action             = "Deny"
    bypass                     = ["AzureServices", "Logging", "Metrics"]
    virtual_network_subnet_ids = var.allowed_subnet_ids
    # The storage firewall refuses /31 and /32 prefixes: a single address goes in bare.
    ip_rules = [for range in var.allowed_ip_ranges : trimsuffix(range, "/32")]
  }

  blob_properties {
    versioning_enabled = true

    delete_retention_policy {
      days = var.soft_delete_days
    }
    container_delete_retention_policy {
      days = var.soft_delete_days
    }
  }

  tags = var.tags
}

# storage_account_id (not the name) makes azurerm 4.x create containers through ARM, so the account firewall
# does not block Terraform itself.
resource "azurerm_storage_container" "this" {
  for_each              = { for key, name in var.containers : key => name if name != null }
  name                  = each.value
  storage_account_id    = azurerm_storage_account.this.id
  container_access_type = "private"
}

resource "azurerm_private_endpoint" "blob" {
  count               = var.should_create_private_endpoint ? 1 : 0
  name                = "pe-${var.name}-blob"
  location            = var.location
  resource_group_name = var.resource_group_name
  subnet_id           = var.private_endpoint_subnet_id
  tags                = var.tags

  private_service_connection {
    name                           = "psc-${var.name}-blob"
    private_connection_resource_id = azurerm_storage_account.this.id
    subresource_names              = ["blob"]
    is_manual_connection           = false
  }

  dynamic "private_dns_zone_group" {
    for_each = var.private_dns_zone_id == null ? [] : [var.private_dns_zone_id]
    content {
      name                 = "blob"
      private_dns_zone_ids = [private_dns_zone_group.value]
    }
  }
}

# Versioning keeps every overwritten checkpoint and every Pipes message: old versions and expired Pipes sessions are
# deleted by the account's lifecycle policy (it runs about once a day), so storage does not grow forever.
resource "azurerm_storage_management_policy" "this" {
  storage_account_id = azurerm_storage_account.this.id

  rule {
    name    = "delete-old-versions"
    enabled = true
    filters {
      blob_types = ["blockBlob"]
    }
    actions {
      version {
        delete_after_days_since_creation = var.lifecycle_policy.version_retention_days
      }
    }
  }

  rule {
    name    = "expire-pipes-messages"
    enabled = true
    filters {
      blob_types   = ["blockBlob"]
      prefix_match = ["${var.containers.pipes}/"]
    }
    actions {
      base_blob {
        delete_after_days_since_modification_greater_than = var.lifecycle_policy.pipes_retention_days
      }
    }
  }

  rule {
    name    = "cool-old-checkpoints"
    enabled = true
    filters {
      blob_types   = ["blockBlob"]
      prefix_match = ["${var.containers.checkpoints}/"]
    }
    actions {
      base_blob {
        tier_to_cool_after_days_since_modification_greater_than = var.lifecycle_policy.checkpoints_cool_after_days
      }
    }
  }
}

# Who read, wrote or deleted which blob (StorageRead/Write/Delete), for audits and for tracing a lost checkpoint.
resource "azurerm_monitor_diagnostic_setting" "blob" {
  name                       = "diag-${var.name}-blob"
  target_resource_id         = "${azurerm_storage_account.this.id}/blobServices/default"
  log_analytics_workspace_id = var.log_analytics_workspace_id

  enabled_log {
    category_group = "audit"
  }
  enabled_metric {
    category = "Transaction"
  }
}
