variable "prefix" {
  type        = string
  description = "Short workload prefix shared by every name (lowercase letters and digits, 2-10 characters)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,9}$", var.prefix))
    error_message = "prefix must be 2-10 lowercase letters or digits, starting with a letter (e.g. \"robotics\")."
  }
}

variable "environment" {
  type        = string
  description = "Deployment environment: dev, test, staging or prod."

  validation {
    condition     = contains(["dev", "test", "staging", "prod"], var.environment)
    error_message = "environment must be one of dev, test, staging, prod."
  }
}

variable "location" {
  type        = string
  description = "Azure region name as the ARM API spells it (e.g. eastus, westeurope); empty for global resources."
  default     = ""

  validation {
    condition     = can(regex("^[a-z0-9]*$", var.location))
    error_message = "location must be the lowercase ARM region name without spaces (e.g. westeurope, not \"West Europe\")."
  }
}

variable "instance" {
  type        = number
  description = "Instance number, to run two copies of the same stack side by side (1-999)."
  default     = 1

  validation {
    condition     = var.instance >= 1 && var.instance <= 999 && floor(var.instance) == var.instance
    error_message = "instance must be a whole number between 1 and 999."
  }
}
