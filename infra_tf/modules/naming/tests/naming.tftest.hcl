# Runs offline: `terraform init && terraform test` in this folder (no provider needed).
variables {
  prefix      = "robotics"
  environment = "dev"
  location    = "eastus"
}

run "follows_the_caf_pattern" {
  command = apply

  assert {
    condition     = output.names.resource_group == "rg-robotics-dev-eastus-001"
    error_message = "resource group name must be rg-<prefix>-<env>-<region>-<instance>"
  }
  assert {
    condition     = output.names.kubernetes_cluster == "aks-robotics-dev-eastus-001"
    error_message = "AKS name must follow the same pattern"
  }
}

run "length_capped_names_fit_azure_limits" {
  command = apply

  variables {
    prefix      = "roboticsxy"
    environment = "staging"
    location    = "germanywestcentral"
    instance    = 123
  }

  assert {
    condition     = length(output.names.storage_account) <= 24 && can(regex("^[a-z0-9]+$", output.names.storage_account))
    error_message = "storage account names are 3-24 lowercase letters and digits"
  }
  assert {
    condition     = length(output.names.key_vault) <= 24 && can(regex("^[a-zA-Z][a-zA-Z0-9-]*[a-zA-Z0-9]$", output.names.key_vault))
    error_message = "Key Vault names are 3-24 characters, letters, digits and dashes, not ending in a dash"
  }
  assert {
    condition     = output.names.storage_account != output.names.ml_storage_account
    error_message = "the Azure ML workspace gets its own storage account"
  }
}

run "truncated_names_keep_the_instance_apart" {
  command = apply

  variables {
    prefix      = "roboticsxy"
    environment = "staging"
    location    = "germanywestcentral"
    instance    = 124
  }

  assert {
    # The 123 run above and this one differ only in the instance, which a plain 24-character cut loses.
    condition     = output.names.key_vault != run.length_capped_names_fit_azure_limits.names.key_vault
    error_message = "two instances must not share a truncated Key Vault name"
  }
  assert {
    condition     = output.names.storage_account != run.length_capped_names_fit_azure_limits.names.storage_account
    error_message = "two instances must not share a truncated storage account name"
  }
  assert {
    condition     = output.names.machine_learning != run.length_capped_names_fit_azure_limits.names.machine_learning
    error_message = "two instances must not share a truncated Azure ML workspace name"
  }
  assert {
    condition     = length(output.names.machine_learning) <= 33 && length(output.names.kubernetes_cluster) <= 54
    error_message = "Azure ML workspace names are at most 33 characters, AKS DNS prefixes 54"
  }
  assert {
    condition     = startswith(output.names.key_vault, "kv-roboticsxy-") && can(regex("^[a-z0-9-]*[a-f0-9]{6}$", output.names.key_vault))
    error_message = "a truncated name keeps its readable head and ends with the 6-digit hash suffix"
  }
}

run "unlisted_regions_get_distinct_codes" {
  command = apply

  variables {
    location = "southafricanorth"
  }

  assert {
    condition     = output.region_code != "southa" && startswith(output.region_code, "sou") && length(output.region_code) == 6
    error_message = "a region outside the code table gets 3 letters and a 3-digit hash"
  }
}

run "unlisted_neighbour_region" {
  command = apply

  variables {
    location = "southafricawest"
  }

  assert {
    condition     = output.region_code != run.unlisted_regions_get_distinct_codes.region_code
    error_message = "southafricanorth and southafricawest must not share a region code (a 6-letter cut would)"
  }
  assert {
    condition     = output.names.storage_account != run.unlisted_regions_get_distinct_codes.names.storage_account
    error_message = "regions with a common prefix must get distinct storage accounts"
  }
}

run "short_names_are_not_suffixed" {
  command = apply

  assert {
    condition     = output.names.storage_account == "stroboticsdeveus001" && output.names.key_vault == "kv-robotics-dev-eus-001"
    error_message = "a name that fits is kept as is (no suffix)"
  }
}

run "regions_get_distinct_global_names" {
  command = apply

  variables {
    location = "westeurope"
  }

  assert {
    condition     = output.names.storage_account == "stroboticsdevweu001"
    error_message = "the region code keeps storage names unique per region"
  }
}

run "global_resources_have_no_region" {
  command = apply

  variables {
    location = ""
  }

  assert {
    condition     = output.names.container_registry == "crroboticsdevglb001"
    error_message = "global names use the glb code"
  }
}

run "rejects_a_display_name_as_location" {
  command = plan

  variables {
    location = "West Europe"
  }

  expect_failures = [var.location]
}

run "rejects_an_unknown_environment" {
  command = plan

  variables {
    environment = "qa"
  }

  expect_failures = [var.environment]
}
