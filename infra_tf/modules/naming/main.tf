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
  # A region outside the table gets 3 letters + 3 hex digits of its name's hash: "southafricanorth" and
  # "southafricawest" share every prefix a plain cut would keep, never the hash.
  region_code = (var.location == "" ? "glb" :
  lookup(local.region_codes, var.location, "${substr(var.location, 0, 3)}${substr(sha1(var.location), 0, 3)}"))
  instance = format("%03d", var.instance)

  # <type>-<prefix>-<env>-<region>-<instance>, the Cloud Adoption Framework pattern.
  dashed  = "${var.prefix}-${var.environment}-${var.location == "" ? "global" : var.location}-${local.instance}"
  compact = "${var.prefix}${var.environment}${local.region_code}${local.instance}"

  # Every name as it would be without Azure's length caps, with the cap of its resource type.
  full = {
    resource_group          = { name = "rg-${local.dashed}", max = 90 }
    virtual_network         = { name = "vnet-${local.dashed}", max = 64 }
    network_security_group  = { name = "nsg-${local.dashed}", max = 80 }
    nat_gateway             = { name = "ng-${local.dashed}", max = 80 }
    nat_public_ip           = { name = "pip-ng-${local.dashed}", max = 80 }
    kubernetes_cluster      = { name = "aks-${local.dashed}", max = 54 } # also the DNS prefix (54)
    log_analytics_workspace = { name = "log-${local.dashed}", max = 63 }
    application_insights    = { name = "appi-${local.dashed}", max = 255 }
    monitor_workspace       = { name = "amw-${local.dashed}", max = 44 }
    data_collection_rule    = { name = "dcr-prom-${local.dashed}", max = 64 }
    action_group            = { name = "ag-${local.dashed}", max = 260 }
    machine_learning        = { name = "mlw-${local.dashed}", max = 33 }
    postgresql_server       = { name = "psql-${local.dashed}", max = 63 }
    managed_redis           = { name = "redis-${local.dashed}", max = 60 }
    training_identity       = { name = "id-trainer-${local.dashed}", max = 128 }
    orchestrator_identity   = { name = "id-orchestrator-${local.dashed}", max = 128 }
    osmo_identity           = { name = "id-osmo-${local.dashed}", max = 128 }
    # Globally unique, alphanumeric-only names with hard length caps.
    storage_account    = { name = "st${local.compact}", max = 24 }
    ml_storage_account = { name = "stml${local.compact}", max = 24 }
    key_vault          = { name = "kv-${var.prefix}-${var.environment}-${local.region_code}-${local.instance}", max = 24 }
    container_registry = { name = "cr${local.compact}", max = 50 }
  }

  # Collision-proof truncation: a name that fits is kept as is; a longer one keeps its head and ends with 6 hex
  # digits of the full name's hash, so two names that differ only in the cut-off tail (the instance number, the
  # region) stay distinct. The head loses a trailing dash so no name gets "--" or ends in a dash.
  names = {
    for kind, spec in local.full : kind => (length(spec.name) <= spec.max ? spec.name :
    "${trim(substr(spec.name, 0, spec.max - 6), "-")}${substr(sha1(spec.name), 0, 6)}")
  }
}
