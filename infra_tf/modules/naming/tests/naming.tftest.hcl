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
