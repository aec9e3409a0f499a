variable "name" {
  type        = string
  description = "Storage account name (3-24 lowercase letters and digits, globally unique)."

  validation {
    condition     = can(regex("^[a-z0-9]{3,24}$", var.name))
    error_message = "Storage account name must be 3-24 lowercase letters and digits."
  }
}

variable "location" {
  type        = string
  description = "Azure region."
}

variable "resource_group_name" {
  type        = string
  description = "Resource group of the account."
}

variable "replication_type" {
  type        = string
  description = "Replication: LRS, ZRS, GRS, RAGRS, GZRS or RAGZRS. ZRS survives a zone outage at ~25 % over LRS."
  default     = "ZRS"

  validation {
    condition     = contains(["LRS", "ZRS", "GRS", "RAGRS", "GZRS", "RAGZRS"], var.replication_type)
    error_message = "replication_type must be one of LRS, ZRS, GRS, RAGRS, GZRS, RAGZRS."
  }
}

variable "containers" {
  description = "Blob container names for checkpoints, models, task configs and Dagster Pipes messages."
  type = object({
    checkpoints  = optional(string, "checkpoints")
    models       = optional(string, "models")
    task_configs = optional(string, "task-configs")
    pipes        = optional(string, "pipes")
    osmo         = optional(string) # OSMO's workflow data and logs; null: no container
  })
  default = {}

  validation {
    condition     = alltrue([for name in values(var.containers) : name == null ? true : can(regex("^[a-z0-9](-?[a-z0-9]){2,62}$", name))])
    error_message = "Container names must be 3-63 lowercase letters, digits and single dashes."
  }
}

variable "allowed_subnet_ids" {
  type        = list(string)
  description = "Subnets (with the Microsoft.Storage service endpoint) admitted through the account firewall."
  default     = []
}

variable "allowed_ip_ranges" {
  type        = list(string)
  description = "Public CIDRs or addresses admitted through the firewall (e.g. an orchestrator outside Azure); keep it short. A /32 is written as the bare address (Azure refuses /31 and /32 here)."
  default     = []

  validation {
    condition     = alltrue([for range in var.allowed_ip_ranges : !endswith(range, "/31") && can(cidrhost(strcontains(range, "/") ? range : "${range}/32", 0))])
    error_message = "allowed_ip_ranges must be IPv4 addresses or CIDRs; the storage firewall refuses /31 ranges (list the two addresses)."
  }
}

variable "should_create_private_endpoint" {
  type        = bool
  description = "Add a blob private endpoint (then set private_endpoint_subnet_id and private_dns_zone_id)."
  default     = false
}

variable "private_endpoint_subnet_id" {
  type        = string
  description = "Subnet of the private endpoint (required when should_create_private_endpoint)."
  default     = null

  validation {
    condition     = !var.should_create_private_endpoint || var.private_endpoint_subnet_id != null
    error_message = "private_endpoint_subnet_id is required when should_create_private_endpoint is true."
  }
}

variable "private_dns_zone_id" {
  type        = string
  description = "ID of the privatelink.blob.core.windows.net zone for the endpoint's DNS record."
  default     = null
}

variable "soft_delete_days" {
  type        = number
  description = "Days deleted blobs and containers stay recoverable (1-365); checkpoints are expensive to recompute."
  default     = 14

  validation {
    condition     = var.soft_delete_days >= 1 && var.soft_delete_days <= 365
    error_message = "soft_delete_days must be between 1 and 365."
  }
}

variable "lifecycle_policy" {
  description = "Lifecycle rules: days a previous blob version is kept, days a Pipes message is kept, days before a checkpoint moves to the cool tier."
  type = object({
    version_retention_days      = optional(number, 30)
    pipes_retention_days        = optional(number, 7)
    checkpoints_cool_after_days = optional(number, 30)
  })
  default = {}

  validation {
    condition     = alltrue([for days in values(var.lifecycle_policy) : days >= 1 && days <= 3650])
    error_message = "lifecycle_policy days must be between 1 and 3650."
  }
}

variable "log_analytics_workspace_id" {
  type        = string
  description = "Log Analytics workspace that receives the blob service's audit logs."
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to the account and its endpoint."
  default     = {}
}
