locals {
  # On-demand Linux list prices, USD per node-hour in eastus (Azure retail prices, checked 2026-11). A reference for
  # cost estimates only: Spot prices float, and other regions differ by up to ~30 %, so override per pool or region.
  vm_catalog = {
    Standard_NC4as_T4_v3      = { gpus = 1, price = 0.526 }
    Standard_NC16as_T4_v3     = { gpus = 1, price = 1.204 }
    Standard_NC64as_T4_v3     = { gpus = 4, price = 4.352 }
    Standard_NV36ads_A10_v5   = { gpus = 1, price = 3.200 }
    Standard_NC24ads_A100_v4  = { gpus = 1, price = 3.673 }
    Standard_NC48ads_A100_v4  = { gpus = 2, price = 7.346 }
    Standard_NC96ads_A100_v4  = { gpus = 4, price = 14.692 }
    Standard_NC40ads_H100_v5  = { gpus = 1, price = 6.980 }
    Standard_NC80adis_H100_v5 = { gpus = 2, price = 13.960 }
    Standard_ND96isr_H100_v5  = { gpus = 8, price = 98.320 }
  }

  gpu_taint  = { key = "nvidia.com/gpu", value = "present", effect = "NoSchedule" }
  spot_taint = { key = "kubernetes.azure.com/scalesetpriority", value = "spot", effect = "NoSchedule" }

  pools = {
    for name, pool in var.pools : name => merge(pool, {
      gpus_per_node  = coalesce(pool.gpus_per_node, try(local.vm_catalog[pool.vm_size].gpus, null))
      price_per_hour = try(coalesce(pool.price_per_hour, try(local.vm_catalog[pool.vm_size].price, null)), null)
      # Every GPU pool is tainted so that only pods that ask for a GPU land there; Azure adds the Spot taint and
      # label to Spot pools itself, and azurerm wants them declared to avoid a perpetual diff.
      taints        = concat([local.gpu_taint], pool.priority == "Spot" ? [local.spot_taint] : [])
      node_selector = { (var.pool_label_key) = name }
      labels = merge(
        pool.labels,
        { (var.pool_label_key) = name },
        pool.priority == "Spot" ? { "kubernetes.azure.com/scalesetpriority" = "spot" } : {},
      )
    })
  }

  default_pool = var.default_pool != "" ? var.default_pool : try(sort(keys(var.pools))[0], "")
  default      = try(local.pools[local.default_pool], null)
  derived_price = (local.default == null ? null :
  local.default.price_per_hour == null ? null : local.default.price_per_hour / local.default.gpus_per_node)
}
