variable "name" {
  type        = string
  description = "Key Vault name (3-24 characters, globally unique)."

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$", var.name))
    error_message = "Key Vault name must be 3-24 letters, digits and dashes, start with a letter and not end with a dash."
  }
}

variable "location" {
  type        = string
  description = "Azure region."
}

variable "resource_group_name" {
  type        = string
  description = "Resource group of the vault."
}

variable "tenant_id" {
  type        = string
  description = "Entra tenant that authenticates requests to the vault."
}

variable "soft_delete_retention_days" {
  type        = number
  description = "Days a deleted vault or secret can be recovered (7-90)."
  default     = 90

  validation {
    condition     = var.soft_delete_retention_days >= 7 && var.soft_delete_retention_days <= 90
    error_message = "soft_delete_retention_days must be between 7 and 90."
  }
}

variable "allowed_subnet_ids" {
  type        = list(string)
  description = "Subnets (with the Microsoft.KeyVault service endpoint) admitted through the vault firewall."
  default     = []
}

variable "allowed_ip_ranges" {
  type        = list(string)
  description = "Public CIDRs admitted through the firewall (e.g. the deployer); keep it short."
  default     = []
}

variable "should_create_private_endpoint" {
  type        = bool
  description = "Add a private endpoint for the vault (then set private_endpoint_subnet_id and private_dns_zone_id)."
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
  description = "ID of the privatelink.vaultcore.azure.net zone for the endpoint's DNS record."
  default     = null
}

variable "deployer_object_id" {
  type        = string
  description = "Object ID of the identity running Terraform; it gets Key Vault Secrets Officer to write OSMO's secrets."
}

variable "log_analytics_workspace_id" {
  type        = string
  description = "Log Analytics workspace that receives the vault's audit logs."
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to the vault."
  default     = {}
}
