terraform {
  required_version = ">= 1.11.0"

  required_providers {
    # Pinned exactly: the offline schema check (tests/infra) reads this version's schema; bump both together.
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "= 4.55.0"
    }
    random = {
      source  = "hashicorp/random"
      version = "= 3.7.2"
    }
  }

  # Remote, encrypted state with locking (blob lease). Settings come from a partial config file at init:
  #   terraform init -backend-config=backend.hcl   (see backend.hcl.example and docs/infra.md)
  backend "azurerm" {}
}
