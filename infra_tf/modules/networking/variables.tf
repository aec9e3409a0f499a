variable "names" {
  description = "Names from the naming module: virtual_network, network_security_group, nat_gateway, nat_public_ip."
  type = object({
    virtual_network        = string
    network_security_group = string
    nat_gateway            = string
    nat_public_ip          = string
  })
}

variable "location" {
  type        = string
  description = "Azure region."
}

variable "resource_group_name" {
  type        = string
  description = "Resource group that holds the network."
}

variable "address_space" {
  type        = string
  description = "VNet CIDR (a /16 is split into the AKS node, private endpoint and PostgreSQL subnets)."
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrhost(var.address_space, 0)) && tonumber(split("/", var.address_space)[1]) <= 20
    error_message = "address_space must be an IPv4 CIDR of /20 or larger (e.g. 10.40.0.0/16)."
  }
}

variable "should_create_postgresql_subnet" {
  type        = bool
  description = "Create the subnet delegated to PostgreSQL Flexible Server (needed by OSMO's dependencies)."
  default     = false
}

variable "should_create_private_dns_zones" {
  type        = bool
  description = "Create private DNS zones (blob, Key Vault, ACR, PostgreSQL, Redis) linked to the VNet for private endpoints."
  default     = true
}

variable "zones" {
  type        = list(string)
  description = "Availability zones of the NAT gateway and its public IP (empty: no zone pinning)."
  default     = []
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every network resource."
  default     = {}
}
