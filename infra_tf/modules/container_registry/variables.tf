variable "name" {
  type        = string
  description = "Registry name (5-50 letters and digits, globally unique)."

  validation {
    condition     = can(regex("^[a-zA-Z0-9]{5,50}$", var.name))
    error_message = "Registry name must be 5-50 letters and digits."
  }
}

variable "location" {
  type        = string
  description = "Home region of the registry."
}

variable "resource_group_name" {
  type        = string
  description = "Resource group of the registry (the global one)."
}

variable "replica_locations" {
  type        = list(string)
  description = "Further regions that get a geo-replica, so each cluster pulls the trainer image from its own region."
  default     = []
}

variable "public_network_access_enabled" {
  type        = bool
  description = "Allow pushes from build agents over the internet (false: private endpoints and trusted services only)."
  default     = true
}

variable "log_analytics_workspace_id" {
  type        = string
  description = "Log Analytics workspace for the registry's audit logs (null: none)."
  default     = null
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to the registry."
  default     = {}
}
