variable "names" {
  description = "Names from the naming module: machine_learning (workspace) and ml_storage_account."
  type = object({
    machine_learning   = string
    ml_storage_account = string
  })
}

variable "location" {
  type        = string
  description = "Azure region."
}

variable "resource_group_name" {
  type        = string
  description = "Resource group of the workspace."
}

variable "key_vault_id" {
  type        = string
  description = "The region's Key Vault (Azure ML keeps its connection secrets there)."
}

variable "application_insights_id" {
  type        = string
  description = "Application Insights the workspace reports to."
}

variable "container_registry_id" {
  type        = string
  description = "The global registry (Azure ML builds and pulls environment images there)."
}

variable "public_network_access_enabled" {
  type        = bool
  description = "Whether the MLflow tracking endpoint is reachable from outside the VNet (true until a private endpoint is wired)."
  default     = true
}

variable "log_analytics_workspace_id" {
  type        = string
  description = "Log Analytics workspace that receives the workspace's audit logs."
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to the workspace and its storage."
  default     = {}
}
