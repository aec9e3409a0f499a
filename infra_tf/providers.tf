provider "azurerm" {
  subscription_id = var.subscription_id
  # Data-plane calls (containers, secrets) use Entra ID, matching the accounts' disabled shared keys.
  storage_use_azuread = true

  features {
    key_vault {
      # Purge protection is on; a destroy must not try to purge.
      purge_soft_delete_on_destroy = false
    }
    resource_group {
      prevent_deletion_if_contains_resources = true
    }
  }
}
