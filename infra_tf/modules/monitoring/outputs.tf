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

output "monitor_workspace_id" {
  description = "Azure Monitor workspace (managed Prometheus) ID."
  value       = azurerm_monitor_workspace.this.id
}

output "prometheus_data_collection_rule_id" {
  description = "Data collection rule that forwards the cluster's Prometheus metrics to the Azure Monitor workspace."
  value       = azurerm_monitor_data_collection_rule.prometheus.id
}

output "prometheus_data_collection_endpoint_id" {
  description = "Data collection endpoint of the Prometheus rule."
  value       = azurerm_monitor_data_collection_endpoint.prometheus.id
}

output "container_insights_data_collection_rule_id" {
  description = "Data collection rule of Container Insights (associated with the cluster in the aks module)."
  value       = azurerm_monitor_data_collection_rule.container_insights.id
}
