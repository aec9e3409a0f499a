variable "name" {
  type        = string
  description = "Private endpoint name (pe-<resource>)."
}

variable "location" {
  type        = string
  description = "Region of the endpoint (the VNet's)."
}

variable "resource_group_name" {
  type        = string
  description = "Resource group of the endpoint."
}

variable "subnet_id" {
  type        = string
  description = "Subnet that receives the endpoint's private address."
}

variable "resource_id" {
  type        = string
  description = "ARM ID of the resource reached through the endpoint."
}

variable "subresource" {
  type        = string
  description = "Private link sub-resource (group ID): registry, amlworkspace, blob, vault, ..."
}

variable "private_dns_zone_ids" {
  type        = list(string)
  description = "Private DNS zones that receive the endpoint's A records (e.g. privatelink.azurecr.io)."

  validation {
    condition     = length(var.private_dns_zone_ids) > 0
    error_message = "private_dns_zone_ids needs at least one zone, or clients keep resolving the public address."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to the endpoint."
  default     = {}
}
