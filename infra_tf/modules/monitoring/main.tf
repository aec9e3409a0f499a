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
