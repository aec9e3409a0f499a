variable "names" {
  description = "Names from the naming module: log_analytics_workspace, application_insights, monitor_workspace, data_collection_rule, action_group."
  type = object({
    log_analytics_workspace = string
    application_insights    = string
    monitor_workspace       = string
    data_collection_rule    = string
    action_group            = string
  })
}

variable "location" {
  type        = string
  description = "Azure region."
}

variable "resource_group_name" {
  type        = string
  description = "Resource group of the monitoring resources."
}

variable "retention_in_days" {
  type        = number
  description = "Log retention (30-730 days; the first 31 days are included in ingestion pricing)."
  default     = 30

  validation {
    condition     = var.retention_in_days >= 30 && var.retention_in_days <= 730
    error_message = "retention_in_days must be between 30 and 730."
  }
}

variable "daily_quota_gb" {
  type        = number
  description = "Daily ingestion cap in GB (-1: no cap); a cap bounds the cost of a log storm from a failing job."
  default     = 5
}

variable "alert_emails" {
  type        = list(string)
  description = "Addresses that receive alerts (empty: no action group)."
  default     = []

  validation {
    condition     = alltrue([for email in var.alert_emails : can(regex("^[^@\\s]+@[^@\\s]+$", email))])
    error_message = "alert_emails must contain e-mail addresses."
  }
}

variable "should_create_private_endpoint" {
  type        = bool
  description = "Put Log Analytics, Application Insights and the Prometheus endpoint behind an Azure Monitor Private Link Scope with a private endpoint."
  default     = false
}

variable "private_endpoint_subnet_id" {
  type        = string
  description = "Subnet of the AMPLS private endpoint (required when should_create_private_endpoint)."
  default     = null

  validation {
    condition     = !var.should_create_private_endpoint || var.private_endpoint_subnet_id != null
    error_message = "private_endpoint_subnet_id is required when should_create_private_endpoint is true."
  }
}

variable "private_dns_zone_ids" {
  type        = list(string)
  description = "The AMPLS zones: privatelink.monitor.azure.com, oms/ods.opinsights.azure.com, agentsvc.azure-automation.net and the blob zone."
  default     = []
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to the monitoring resources."
  default     = {}
}
