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

# Container Insights with managed-identity auth (aks: oms_agent msi_auth_for_monitoring_enabled) collects only what
# a data collection rule associated with the cluster names; Terraform must create it (the CLI would).
resource "azurerm_monitor_data_collection_rule" "container_insights" {
  name                = "${var.names.data_collection_rule}-ci"
  location            = var.location
  resource_group_name = var.resource_group_name
  kind                = "Linux"
  tags                = var.tags

  destinations {
    log_analytics {
      workspace_resource_id = azurerm_log_analytics_workspace.this.id
      name                  = "logs"
    }
  }

  data_flow {
    streams      = local.container_insights_streams
    destinations = ["logs"]
  }

  data_sources {
    extension {
      name           = "ContainerInsightsExtension"
      extension_name = "ContainerInsights"
      streams        = local.container_insights_streams
      extension_json = jsonencode({
        dataCollectionSettings = { interval = "1m", namespaceFilteringMode = "Off", enableContainerLogV2 = true }
      })
    }
  }
}

locals {
  # Trainer stdout (ContainerLogV2), pod and node state, and events: why a pod was evicted or stayed Pending.
  container_insights_streams = [
    "Microsoft-ContainerLogV2", "Microsoft-KubeEvents", "Microsoft-KubePodInventory", "Microsoft-KubeNodeInventory",
  ]
}

# Azure Monitor Private Link Scope (with private endpoints): the agents in the VNet reach Log Analytics, Application
# Insights and the Prometheus endpoint privately. Access modes stay Open: the private DNS zones below answer for
# every Azure Monitor resource the VNet talks to, and resources outside this scope must stay reachable.
resource "azurerm_monitor_private_link_scope" "this" {
  count                 = var.should_create_private_endpoint ? 1 : 0
  name                  = "ampls-${var.names.log_analytics_workspace}"
  resource_group_name   = var.resource_group_name
  ingestion_access_mode = "Open"
  query_access_mode     = "Open"
  tags                  = var.tags
}

resource "azurerm_monitor_private_link_scoped_service" "this" {
  for_each = var.should_create_private_endpoint ? {
    logs       = azurerm_log_analytics_workspace.this.id
    insights   = azurerm_application_insights.this.id
    prometheus = azurerm_monitor_data_collection_endpoint.prometheus.id
  } : {}
  name                = "${each.key}-link"
  resource_group_name = var.resource_group_name
  scope_name          = azurerm_monitor_private_link_scope.this[0].name
  linked_resource_id  = each.value
}

resource "azurerm_private_endpoint" "monitor" {
  count               = var.should_create_private_endpoint ? 1 : 0
  name                = "pe-ampls-${var.names.log_analytics_workspace}"
  location            = var.location
  resource_group_name = var.resource_group_name
  subnet_id           = var.private_endpoint_subnet_id
  tags                = var.tags

  private_service_connection {
    name                           = "psc-ampls-${var.names.log_analytics_workspace}"
    private_connection_resource_id = azurerm_monitor_private_link_scope.this[0].id
    subresource_names              = ["azuremonitor"]
    is_manual_connection           = false
  }

  private_dns_zone_group {
    name                 = "azuremonitor"
    private_dns_zone_ids = var.private_dns_zone_ids
  }

  # Azure refuses an endpoint whose scope's members change under it ("Mismatching RequiredMembers").
  depends_on = [azurerm_monitor_private_link_scoped_service.this]
}
