variable "names" {
  description = "Names from the naming module: postgresql_server and managed_redis."
  type = object({
    postgresql_server = string
    managed_redis     = string
  })
}

variable "location" {
  type        = string
  description = "Azure region."
}

variable "resource_group_name" {
  type        = string
  description = "Resource group of OSMO's data services."
}

variable "tenant_id" {
  type        = string
  description = "Entra tenant for PostgreSQL Entra authentication."
}

variable "postgresql_subnet_id" {
  type        = string
  description = "Subnet delegated to Microsoft.DBforPostgreSQL/flexibleServers (networking module)."
}

variable "postgresql_private_dns_zone_id" {
  type        = string
  description = "ID of privatelink.postgres.database.azure.com, linked to the VNet."
}

variable "postgresql_sku" {
  type        = string
  description = "PostgreSQL compute SKU; OSMO's control plane is light, a burstable B2s suffices below ~100 concurrent workflows."
  default     = "B_Standard_B2s"

  validation {
    condition     = can(regex("^(B|GP|MO)_Standard_", var.postgresql_sku))
    error_message = "postgresql_sku must be a Flexible Server SKU such as B_Standard_B2s or GP_Standard_D2ds_v5."
  }
}

variable "postgresql_storage_mb" {
  type        = number
  description = "PostgreSQL storage in MB (32768 or more)."
  default     = 32768

  validation {
    condition     = var.postgresql_storage_mb >= 32768
    error_message = "postgresql_storage_mb must be at least 32768."
  }
}

variable "administrator_password_version" {
  type        = number
  description = "Bump to rotate the PostgreSQL admin password (it is write-only: never stored in Terraform state)."
  default     = 1
}

variable "key_vault_id" {
  type        = string
  description = "Key Vault that receives the PostgreSQL admin password for OSMO's Helm chart."
}

variable "redis_sku" {
  type        = string
  description = "Azure Managed Redis SKU (Balanced_B0 is the smallest; OSMO uses Redis as a job queue)."
  default     = "Balanced_B0"
}

variable "private_endpoint_subnet_id" {
  type        = string
  description = "Subnet of the Redis private endpoint."
}

variable "redis_private_dns_zone_id" {
  type        = string
  description = "ID of privatelink.redis.azure.net (null: no DNS record)."
  default     = null
}

variable "redis_key_version" {
  type        = number
  description = "Bump after regenerating the Redis access key so Terraform writes the new key to Key Vault."
  default     = 1
}

variable "log_analytics_workspace_id" {
  type        = string
  description = "Log Analytics workspace that receives PostgreSQL and Redis diagnostics."
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to the data services."
  default     = {}
}
