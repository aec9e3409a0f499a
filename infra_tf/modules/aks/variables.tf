variable "name" {
  type        = string
  description = "Cluster name (from the naming module); also the DNS prefix."
}

variable "location" {
  type        = string
  description = "Azure region."
}

variable "resource_group_name" {
  type        = string
  description = "Resource group of the cluster."
}

variable "kubernetes_version" {
  type        = string
  description = "Kubernetes minor version (e.g. 1.33); AKS applies patches automatically."
  default     = "1.33"

  validation {
    condition     = can(regex("^1\\.[0-9]{2}$", var.kubernetes_version))
    error_message = "kubernetes_version must be a minor version like \"1.33\" (patches are automatic)."
  }
}

variable "sku_tier" {
  type        = string
  description = "AKS control plane tier: Free (dev), Standard (uptime SLA) or Premium."
  default     = "Standard"

  validation {
    condition     = contains(["Free", "Standard", "Premium"], var.sku_tier)
    error_message = "sku_tier must be Free, Standard or Premium."
  }
}

variable "system_pool" {
  description = "The system node pool (runs only critical add-ons): VM size, autoscale bounds, zones."
  type = object({
    vm_size   = optional(string, "Standard_D4ds_v5")
    min_count = optional(number, 1)
    max_count = optional(number, 3)
    zones     = optional(list(string), [])
    # Must fit the VM's local cache/temp disk (Standard_D4ds_v5: 150 GiB) since OS disks are ephemeral.
    os_disk_size_gb = optional(number, 128)
  })
  default = {}

  validation {
    condition     = var.system_pool.min_count >= 1 && var.system_pool.min_count <= var.system_pool.max_count
    error_message = "system_pool needs 1 <= min_count <= max_count (the system pool cannot scale to zero)."
  }
}

variable "gpu_node_pools" {
  description = "GPU node pools keyed by name: the gpu_node_pools module's node_pools output."
  type = map(object({
    vm_size         = string
    priority        = string
    eviction_policy = string
    spot_max_price  = number
    min_count       = number
    max_count       = number
    zones           = list(string)
    os_disk_size_gb = number
    node_labels     = map(string)
    node_taints     = list(string)
  }))
  default = {}

  validation {
    condition     = alltrue([for pool in values(var.gpu_node_pools) : contains(pool.node_taints, "nvidia.com/gpu=present:NoSchedule")])
    error_message = "Every GPU node pool must carry the nvidia.com/gpu=present:NoSchedule taint (build pools with the gpu_node_pools module)."
  }
}

variable "vnet_subnet_id" {
  type        = string
  description = "Subnet of the node pools; egress must go through its NAT gateway."
}

variable "virtual_network_id" {
  type        = string
  description = "VNet of the node subnet: the control plane identity gets Network Contributor on it to manage the subnet."
}

variable "log_analytics_workspace_id" {
  type        = string
  description = "Log Analytics workspace for Container Insights and the control plane's diagnostic logs."
}

variable "prometheus" {
  description = "Managed Prometheus: the data collection rule and endpoint (monitoring module) associated with the cluster."
  type = object({
    data_collection_rule_id     = string
    data_collection_endpoint_id = string
  })
}

variable "container_insights_data_collection_rule_id" {
  type        = string
  description = "Container Insights data collection rule (monitoring module); with managed-identity auth nothing is collected without it."
}

variable "tenant_id" {
  type        = string
  description = "Entra tenant for Kubernetes RBAC with Entra ID."
}

variable "admin_group_object_ids" {
  type        = list(string)
  description = "Entra groups that are cluster admins (local accounts are disabled: without one, nobody can apply the cluster objects)."

  validation {
    condition     = length(var.admin_group_object_ids) > 0
    error_message = "admin_group_object_ids needs at least one Entra group object ID (az ad group show -g NAME --query id -o tsv)."
  }
}

variable "authorized_ip_ranges" {
  type        = list(string)
  description = "CIDRs allowed to reach the API server (empty: any; set it for production)."
  default     = []
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to the cluster and node pools."
  default     = {}
}
