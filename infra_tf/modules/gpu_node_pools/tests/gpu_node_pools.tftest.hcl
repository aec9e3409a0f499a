# Runs offline: `terraform init && terraform test` in this folder (no provider needed).
variables {
  pools = {
    gpuspot = { vm_size = "Standard_NC24ads_A100_v4", priority = "Spot", min_count = 0, max_count = 4, zones = ["1", "2"] }
    h100    = { vm_size = "Standard_NC80adis_H100_v5", priority = "Regular", min_count = 0, max_count = 1 }
  }
}

run "every_pool_is_tainted_for_gpus_only" {
  command = apply

  assert {
    condition     = alltrue([for p in values(output.node_pools) : contains(p.node_taints, "nvidia.com/gpu=present:NoSchedule")])
    error_message = "every GPU pool must carry the nvidia.com/gpu NoSchedule taint"
  }
  assert {
    condition     = contains(output.node_pools.gpuspot.node_taints, "kubernetes.azure.com/scalesetpriority=spot:NoSchedule")
    error_message = "Spot pools must declare the taint Azure adds, or every plan shows a diff"
  }
  assert {
    condition     = length(output.node_pools.h100.node_taints) == 1
    error_message = "Regular pools carry only the GPU taint"
  }
  assert {
    condition     = output.node_pools.gpuspot.node_labels["kubernetes.azure.com/scalesetpriority"] == "spot"
    error_message = "Spot pools must declare the Spot label"
  }
}

run "selectors_match_labels_and_scale_to_zero" {
  command = apply

  assert {
    condition     = alltrue([for name, c in output.contract : output.node_pools[name].node_labels["robotics.example.com/pool"] == c.node_selector["robotics.example.com/pool"]])
    error_message = "the node selector handed to launchers must match a label on the pool"
  }
  assert {
    condition     = output.node_pools.gpuspot.min_count == 0 && output.node_pools.gpuspot.max_count == 4
    error_message = "autoscale bounds pass through, including min_count = 0"
  }
  assert {
    condition     = output.node_pools.h100.eviction_policy == null && output.node_pools.h100.spot_max_price == null
    error_message = "eviction policy and Spot price apply to Spot pools only"
  }
}

run "price_per_gpu_hour_comes_from_the_default_pool" {
  command = apply

  variables {
    default_pool = "h100"
  }

  assert {
    condition     = output.contract.h100.gpus_per_node == 2 && output.gpu_price_per_hour == 6.98
    error_message = "price per GPU-hour is the node price divided by GPUs per node"
  }
}

run "first_pool_by_name_is_the_default" {
  command = apply

  assert {
    condition     = output.default_pool == "gpuspot" && output.gpu_price_per_hour == 3.673
    error_message = "without default_pool, the first pool by name sets the price"
  }
  assert {
    condition     = output.contract.h100.price_per_hour == 13.96 && output.contract.gpuspot.max_count == 4 && output.contract.h100.min_count == 0
    error_message = "the contract carries each pool's node price and autoscale bounds"
  }
}

run "price_override_wins" {
  command = apply

  variables {
    gpu_price_per_hour = 1.25
  }

  assert {
    condition     = output.gpu_price_per_hour == 1.25
    error_message = "an explicit regional price overrides the catalog"
  }
}

run "no_pools_means_no_price" {
  command = apply

  variables {
    pools = {}
  }

  assert {
    condition     = output.default_pool == null && output.gpu_price_per_hour == null
    error_message = "a region without GPU pools has no GPU price"
  }
}

run "rejects_unknown_priority" {
  command = plan

  variables {
    pools = { bad = { vm_size = "Standard_NC24ads_A100_v4", priority = "Low" } }
  }

  expect_failures = [var.pools]
}

run "rejects_inverted_autoscale_bounds" {
  command = plan

  variables {
    pools = { bad = { vm_size = "Standard_NC24ads_A100_v4", min_count = 3, max_count = 1 } }
  }

  expect_failures = [var.pools]
}

run "rejects_uncatalogued_vm_without_gpu_count" {
  command = plan

  variables {
    pools = { odd = { vm_size = "Standard_NX_Future_v9" } }
  }

  expect_failures = [var.pools]
}

run "accepts_uncatalogued_vm_with_gpu_count" {
  command = apply

  variables {
    pools = { odd = { vm_size = "Standard_NX_Future_v9", gpus_per_node = 8, price_per_hour = 40 } }
  }

  assert {
    condition     = output.gpu_price_per_hour == 5
    error_message = "explicit gpus_per_node and price_per_hour are used for sizes outside the catalog"
  }
}

run "rejects_a_default_pool_that_does_not_exist" {
  command = plan

  variables {
    default_pool = "nope"
  }

  expect_failures = [var.default_pool]
}
