resource "azurerm_log_analytics_workspace" "this" {
  name                = var.names.log_analytics_workspace
  location            = var.location
  resource_group_name = var.resource_group_name
  sku                 = "PerGB2018"
  retention_in_days   = var.retention_in_days
  daily_quota_gb      = var.daily_quota_gb
  tags                = var.tags
}

# Workspace-based Application Insights: Azure ML requires one, and its telemetry lands in the same workspace.
resource "azurerm_application_insights" "this" {
  name                = var.names.application_insights
  location            = var.location
  resource_group_name = var.resource_group_name
  workspace_id        = azurerm_log_analytics_workspace.this.id
  application_type    = "other"
  tags                = var.tags
}

resource "azurerm_monitor_action_group" "this" {
  count               = length(var.alert_emails) > 0 ? 1 : 0
  name                = var.names.action_group
  resource_group_name = var.resource_group_name
  short_name          = "robotics"
  tags                = var.tags

  dynamic "email_receiver" {
    for_each = toset(var.alert_emails)
    content {
      name                    = email_receiver.value
      email_address           = email_receiver.value
      use_common_alert_schema = true
    }
  }
}

# Managed Prometheus: the cluster's metrics add-on (aks module: monitor_metrics) sends through this endpoint and rule
# into an Azure Monitor workspace; GPU metrics come from the GPU operator's DCGM exporter (scraped via the
# ama-metrics-prometheus-config ConfigMap, modules/cluster_manifests).
resource "azurerm_monitor_workspace" "this" {
  name                = var.names.monitor_workspace
  location            = var.location
  resource_group_name = var.resource_group_name
  tags                = var.tags
}

resource "azurerm_monitor_data_collection_endpoint" "prometheus" {
  name                = "dce-${var.names.monitor_workspace}"
  location            = var.location
  resource_group_name = var.resource_group_name
  kind                = "Linux"
  tags                = var.tags
}

resource "azurerm_monitor_data_collection_rule" "prometheus" {
  name                        = var.names.data_collection_rule
  location                    = var.location
  resource_group_name         = var.resource_group_name
  data_collection_endpoint_id = azurerm_monitor_data_collection_endpoint.prometheus.id
  kind                        = "Linux"
  tags                        = var.tags

  destinations {
    monitor_account {
      monitor_account_id = azurerm_monitor_workspace.this.id
      name               = "monitor-workspace"
    }
  }

  data_flow {
    streams      = ["Microsoft-PrometheusMetrics"]
    destinations = ["monitor-workspace"]
  }

  data_sources {
    prometheus_forwarder {
      name    = "prometheus"
      streams = ["Microsoft-PrometheusMetrics"]
    }
  }
}
