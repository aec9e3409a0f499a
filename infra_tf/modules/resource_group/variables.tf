variable "name" {
  type        = string
  description = "Resource group name (from the naming module)."
}

variable "location" {
  type        = string
  description = "Azure region of the resource group."
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to the resource group."
  default     = {}
}
