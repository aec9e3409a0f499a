locals {
  # Short region codes keep globally unique, length-capped names (storage 24, Key Vault 24) readable.
  region_codes = {
    eastus             = "eus"
    eastus2            = "eus2"
    westus2            = "wus2"
    westus3            = "wus3"
    centralus          = "cus"
    southcentralus     = "scus"
    northcentralus     = "ncus"
    canadacentral      = "cac"
    westeurope         = "weu"
    northeurope        = "neu"
    swedencentral      = "sdc"
    uksouth            = "uks"
    francecentral      = "frc"
    germanywestcentral = "gwc"
    switzerlandnorth   = "szn"
    japaneast          = "jpe"
    koreacentral       = "krc"
    australiaeast      = "aue"
    southeastasia      = "sea"
    centralindia       = "inc"
  }
  region_code = var.location == "" ? "glb" : lookup(local.region_codes, var.location, substr(var.location, 0, 6))
  instance    = format("%03d", var.instance)

  # <type>-<prefix>-<env>-<region>-<instance>, the Cloud Adoption Framework pattern.
  dashed  = "${var.prefix}-${var.environment}-${var.location == "" ? "global" : var.location}-${local.instance}"
  compact = "${var.prefix}${var.environment}${local.region_code}${local.instance}"

  names = {
    resource_group          = "rg-${local.dashed}"
    virtual_network         = "vnet-${local.dashed}"
    network_security_group  = "nsg-${local.dashed}"
    nat_gateway             = "ng-${local.dashed}"
    nat_public_ip           = "pip-ng-${local.dashed}"
    kubernetes_cluster      = "aks-${local.dashed}"
    log_analytics_workspace = "log-${local.dashed}"
    application_insights    = "appi-${local.dashed}"
    action_group            = "ag-${local.dashed}"
    machine_learning        = "mlw-${local.dashed}"
    postgresql_server       = "psql-${local.dashed}"
    managed_redis           = "redis-${local.dashed}"
    training_identity       = "id-trainer-${local.dashed}"
    orchestrator_identity   = "id-orchestrator-${local.dashed}"
    # Globally unique, alphanumeric-only names with hard length caps.
    storage_account    = substr("st${local.compact}", 0, 24)
    ml_storage_account = substr("stml${local.compact}", 0, 24)
    # trim: a cut at 24 characters must not leave a trailing dash, which Key Vault rejects.
    key_vault          = trim(substr("kv-${var.prefix}-${var.environment}-${local.region_code}-${local.instance}", 0, 24), "-")
    container_registry = substr("cr${local.compact}", 0, 50)
  }
}
