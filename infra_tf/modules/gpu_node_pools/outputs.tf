output "node_pools" {
  description = "Per pool: what azurerm_kubernetes_cluster_node_pool needs (vm_size, priority, eviction_policy, autoscale bounds, zones, node_labels, node_taints as key=value:effect strings)."
  value = {
    for name, pool in local.pools : name => {
      vm_size         = pool.vm_size
      priority        = pool.priority
      eviction_policy = pool.priority == "Spot" ? pool.eviction_policy : null
      spot_max_price  = pool.priority == "Spot" ? pool.spot_max_price : null
      min_count       = pool.min_count
      max_count       = pool.max_count
      zones           = pool.zones
      os_disk_size_gb = pool.os_disk_size_gb
      node_labels     = pool.labels
      node_taints     = [for t in pool.taints : "${t.key}=${t.value}:${t.effect}"]
    }
  }
}

output "contract" {
  description = "Per pool, the part of the region settings contract launchers read (docs/architecture.md)."
  value = {
    for name, pool in local.pools : name => {
      vm_size        = pool.vm_size
      priority       = pool.priority
      gpus_per_node  = pool.gpus_per_node
      min_count      = pool.min_count
      max_count      = pool.max_count
      price_per_hour = pool.price_per_hour
      node_selector  = pool.node_selector
      taints         = pool.taints
    }
  }
}

output "default_pool" {
  description = "Name of the pool training uses by default (null when the region has no GPU pool)."
  value       = local.default_pool == "" ? null : local.default_pool
}

output "gpu_price_per_hour" {
  description = "USD per GPU-hour in the default pool: the override if given, else the on-demand list price per node divided by GPUs per node."
  value       = var.gpu_price_per_hour != null ? var.gpu_price_per_hour : local.derived_price
}
