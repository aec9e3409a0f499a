output "log_analytics_workspace_id" {
  description = "Log Analytics workspace ID (Container Insights, diagnostics)."
  value       = azurerm_log_analytics_workspace.this.id
}

output "application_insights_id" {
  description = "Application Insights ID (Azure ML workspace)."
  value       = azurerm_application_insights.this.id
}

output "action_group_id" {
  description = "Action group for alerts (null without alert_emails)."
  value       = try(azurerm_monitor_action_group.this[0].id, null)
}
