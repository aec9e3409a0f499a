variable "prefix" {
  type        = string
  description = "Workload prefix shared by every name (see the naming module)."
}

variable "environment" {
  type        = string
  description = "Deployment environment: dev, test, staging or prod."
}

variable "instance" {
  type        = number
  description = "Instance number of this copy of the platform."
  default     = 1
}

variable "location" {
  type        = string
  description = "Azure region of this stack (ARM spelling, e.g. eastus)."
}

variable "region" {
  description = "This region's settings; every attribute is optional and defaults here (the root's `regions` entries)."
  type = object({
    address_space                   = optional(string, "10.40.0.0/16")
    zones                           = optional(list(string), [])
    kubernetes_version              = optional(string, "1.33")
    aks_sku_tier                    = optional(string, "Standard")
    system_pool                     = optional(object({ vm_size = optional(string), min_count = optional(number), max_count = optional(number), zones = optional(list(string)), os_disk_size_gb = optional(number) }), {})
    gpu_node_pools                  = optional(map(object({ vm_size = string, priority = optional(string), eviction_policy = optional(string), min_count = optional(number), max_count = optional(number), zones = optional(list(string)), labels = optional(map(string)), spot_max_price = optional(number), gpus_per_node = optional(number), price_per_hour = optional(number), os_disk_size_gb = optional(number) })), {})
    default_gpu_pool                = optional(string, "")
    gpu_price_per_hour              = optional(number)
    storage_replication_type        = optional(string, "ZRS")
    should_create_private_endpoints = optional(bool, false)
    should_deploy_osmo_dependencies = optional(bool, false)
    osmo_pool                       = optional(string)
    osmo_service_url                = optional(string)
    log_retention_days              = optional(number, 30)
    alert_emails                    = optional(list(string), [])
    authorized_ip_ranges            = optional(list(string), [])
    allowed_ip_ranges               = optional(list(string), [])
    training_domains                = optional(map(object({ service_account = optional(string), tasks = list(string) })), { default = { tasks = ["*"] } })
    storage_lifecycle               = optional(object({ version_retention_days = optional(number), pipes_retention_days = optional(number), checkpoints_cool_after_days = optional(number) }), {})
    trainer_public_https            = optional(bool, true)
    osmo_workflow_namespace         = optional(string, "osmo-workflows")
  })
  default = {}
}

variable "tenant_id" {
  type        = string
  description = "Entra tenant (Key Vault, Kubernetes RBAC, PostgreSQL)."
}

variable "container_registry" {
  description = "The global registry: ID (for AcrPull and Azure ML) and login server."
  type = object({
    id           = string
    login_server = string
  })
}

variable "trainer_image" {
  description = "Repository and tag of the trainer image in the global registry."
  type = object({
    repository = string
    tag        = string
  })
}

variable "subscription_id" {
  type        = string
  description = "Subscription of the region's resources (reported in the region settings)."
}

variable "deployer_object_id" {
  type        = string
  description = "Object ID of the identity running Terraform (gets Key Vault Secrets Officer on the region's vault)."
}

variable "deployer_ip_ranges" {
  type        = list(string)
  description = "Public CIDRs of the Terraform runner, admitted through the Key Vault and storage firewalls."
  default     = []
}

variable "training_namespace" {
  type        = string
  description = "Kubernetes namespace of training pods (the orchestrator's pods-only Role applies there)."
  default     = "robotics"
}

variable "orchestrator_service_account" {
  description = "Namespace and name of the Kubernetes service account of the Dagster deployment."
  type = object({
    namespace = string
    name      = string
  })
  default = { namespace = "dagster", name = "dagster" }
}

variable "admin_group_object_ids" {
  type        = list(string)
  description = "Entra groups that administer the cluster (required: local accounts are disabled)."
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource of the region."
  default     = {}
}
