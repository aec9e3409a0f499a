variable "pools" {
  description = <<-EOT
    GPU node pools keyed by pool name (AKS: lowercase alphanumeric, at most 12 characters). Per pool: vm_size,
    priority (Spot or Regular), eviction_policy (Spot only: Delete or Deallocate), min_count/max_count for the
    cluster autoscaler (min_count = 0 scales the pool to zero when no training runs), zones, extra node labels, and
    optional overrides for spot_max_price (-1 = pay up to the on-demand price), gpus_per_node and price_per_hour
    (USD per node-hour) for VM sizes missing from the built-in catalog.
  EOT
  type = map(object({
    vm_size         = string
    priority        = optional(string, "Spot")
    eviction_policy = optional(string, "Delete")
    min_count       = optional(number, 0)
    max_count       = optional(number, 2)
    zones           = optional(list(string), [])
    labels          = optional(map(string), {})
    spot_max_price  = optional(number, -1)
    gpus_per_node   = optional(number)
    price_per_hour  = optional(number)
    os_disk_size_gb = optional(number, 256)
  }))
  default = {}

  validation {
    condition     = alltrue([for name in keys(var.pools) : can(regex("^[a-z][a-z0-9]{0,11}$", name))])
    error_message = "GPU pool names must be 1-12 lowercase letters or digits, starting with a letter (an AKS limit)."
  }
  validation {
    condition     = alltrue([for pool in values(var.pools) : contains(["Spot", "Regular"], pool.priority)])
    error_message = "GPU pool priority must be \"Spot\" or \"Regular\"."
  }
  validation {
    condition     = alltrue([for pool in values(var.pools) : contains(["Delete", "Deallocate"], pool.eviction_policy)])
    error_message = "GPU pool eviction_policy must be \"Delete\" or \"Deallocate\"."
  }
  validation {
    condition     = alltrue([for pool in values(var.pools) : pool.min_count >= 0 && pool.max_count >= 1 && pool.min_count <= pool.max_count && pool.max_count <= 1000])
    error_message = "GPU pool autoscale bounds must satisfy 0 <= min_count <= max_count, 1 <= max_count <= 1000."
  }
  validation {
    condition     = alltrue([for pool in values(var.pools) : pool.spot_max_price == -1 || pool.spot_max_price > 0])
    error_message = "GPU pool spot_max_price must be -1 (up to the on-demand price) or a positive USD price."
  }
  validation {
    condition     = alltrue([for pool in values(var.pools) : pool.gpus_per_node == null ? true : pool.gpus_per_node >= 1])
    error_message = "GPU pool gpus_per_node must be at least 1."
  }
  validation {
    condition     = alltrue([for pool in values(var.pools) : pool.gpus_per_node != null || contains(keys(local.vm_catalog), pool.vm_size)])
    error_message = "A GPU pool uses a VM size missing from the built-in catalog: set gpus_per_node (and price_per_hour) on it."
  }
}

variable "default_pool" {
  type        = string
  description = "The pool training jobs use unless told otherwise; its price becomes the region's gpu_price_per_hour. Empty: the first pool by name."
  default     = ""

  validation {
    condition     = var.default_pool == "" || contains(keys(var.pools), var.default_pool)
    error_message = "default_pool must name one of the GPU pools (or be empty for the first pool by name)."
  }
}

variable "gpu_price_per_hour" {
  type        = number
  description = "Override of the region's USD price per GPU-hour (e.g. a negotiated or measured Spot price). Null: derived from the default pool."
  default     = null

  validation {
    condition     = var.gpu_price_per_hour == null ? true : var.gpu_price_per_hour > 0
    error_message = "gpu_price_per_hour must be a positive USD amount, or null to derive it from the default pool."
  }
}

variable "pool_label_key" {
  type        = string
  description = "Node label that names the pool; launchers select pools with it."
  default     = "robotics.example.com/pool"
}
