variable "subscription_id" {
  type        = string
  description = "Azure subscription that receives every region (GUID)."

  validation {
    condition     = can(regex("^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$", var.subscription_id))
    error_message = "subscription_id must be a GUID (az account show --query id -o tsv)."
  }
}

variable "prefix" {
  type        = string
  description = "Workload prefix shared by every name (2-10 lowercase letters or digits)."
  default     = "robotics"
}

variable "environment" {
  type        = string
  description = "Deployment environment: dev, test, staging or prod."
  default     = "dev"
}

variable "instance" {
  type        = number
  description = "Instance number, to run two copies of the platform side by side."
  default     = 1
}

variable "global_location" {
  type        = string
  description = "Region of the shared global pieces (resource group, registry). Empty: the first region by name."
  default     = ""
}

variable "regions" {
  description = <<-EOT
    The regional stacks, keyed by Azure region (ARM spelling, e.g. eastus). Adding a key adds a region; every
    attribute is optional (defaults in modules/regional_stack): address_space, zones, kubernetes_version,
    aks_sku_tier, system_pool, gpu_node_pools (see modules/gpu_node_pools), default_gpu_pool, gpu_price_per_hour,
    storage_replication_type, should_create_private_endpoints (storage, Key Vault, registry, Azure ML),
    should_deploy_osmo_dependencies, osmo_pool, osmo_service_url, osmo_workflow_namespace, log_retention_days,
    alert_emails, authorized_ip_ranges, allowed_ip_ranges, training_domains (per-domain identities whose writes
    ABAC limits to their tasks' prefixes), storage_lifecycle (version_retention_days, pipes_retention_days,
    checkpoints_cool_after_days), trainer_public_https (trainer egress to public 443; docs/infra.md).
  EOT
  type = map(object({
    address_space                   = optional(string)
    zones                           = optional(list(string))
    kubernetes_version              = optional(string)
    aks_sku_tier                    = optional(string)
    system_pool                     = optional(object({ vm_size = optional(string), min_count = optional(number), max_count = optional(number), zones = optional(list(string)), os_disk_size_gb = optional(number) }))
    gpu_node_pools                  = optional(map(object({ vm_size = string, priority = optional(string), eviction_policy = optional(string), min_count = optional(number), max_count = optional(number), zones = optional(list(string)), labels = optional(map(string)), spot_max_price = optional(number), gpus_per_node = optional(number), price_per_hour = optional(number), os_disk_size_gb = optional(number) })))
    default_gpu_pool                = optional(string)
    gpu_price_per_hour              = optional(number)
    storage_replication_type        = optional(string)
    should_create_private_endpoints = optional(bool)
    should_deploy_osmo_dependencies = optional(bool)
    osmo_pool                       = optional(string)
    osmo_service_url                = optional(string)
    log_retention_days              = optional(number)
    alert_emails                    = optional(list(string))
    authorized_ip_ranges            = optional(list(string))
    allowed_ip_ranges               = optional(list(string))
    training_domains                = optional(map(object({ service_account = optional(string), tasks = list(string) })))
    storage_lifecycle               = optional(object({ version_retention_days = optional(number), pipes_retention_days = optional(number), checkpoints_cool_after_days = optional(number) }))
    trainer_public_https            = optional(bool)
    osmo_workflow_namespace         = optional(string)
  }))

  validation {
    condition     = length(var.regions) > 0
    error_message = "regions must name at least one Azure region."
  }
  validation {
    condition     = alltrue([for name in keys(var.regions) : can(regex("^[a-z0-9]+$", name))])
    error_message = "regions keys must be ARM region names such as eastus or westeurope (lowercase, no spaces)."
  }
}

variable "trainer_image" {
  description = "Repository and tag of the trainer image pushed to the global registry."
  type = object({
    repository = optional(string, "robotics-trainer")
    tag        = optional(string, "0.1.0")
  })
  default = {}
}

variable "admin_group_object_ids" {
  type        = list(string)
  description = "Entra groups that administer every cluster: local Kubernetes accounts are disabled, so without one nobody can apply the cluster objects (docs/infra.md, deployment order)."

  validation {
    condition     = length(var.admin_group_object_ids) > 0 && alltrue([for id in var.admin_group_object_ids : can(regex("^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$", id))])
    error_message = "admin_group_object_ids needs at least one Entra group object ID (az ad group show -g NAME --query id -o tsv)."
  }
}

variable "deployer_ip_ranges" {
  type        = list(string)
  description = "Public CIDRs of the machine running Terraform: admitted through every region's Key Vault and storage firewalls (Terraform writes OSMO's secrets). Empty: run Terraform from inside the VNet."
  default     = []

  validation {
    condition     = alltrue([for range in var.deployer_ip_ranges : can(cidrhost(range, 0)) && !endswith(range, "/31")])
    error_message = "deployer_ip_ranges must be IPv4 CIDRs such as 203.0.113.10/32 (no /31: the storage firewall refuses it)."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource."
  default     = { workload = "robotics", managed_by = "terraform" }
}
