# A user-assigned control plane identity can be granted rights on the BYO subnet before the cluster exists;
# a system-assigned one could not, and the first create would race the role assignment.
resource "azurerm_user_assigned_identity" "control_plane" {
  name                = "id-${var.name}"
  location            = var.location
  resource_group_name = var.resource_group_name
  tags                = var.tags
}

resource "azurerm_role_assignment" "control_plane_network" {
  scope                = var.virtual_network_id
  role_definition_name = "Network Contributor"
  principal_id         = azurerm_user_assigned_identity.control_plane.principal_id
  principal_type       = "ServicePrincipal"
}

resource "azurerm_kubernetes_cluster" "this" {
  name                      = var.name
  location                  = var.location
  resource_group_name       = var.resource_group_name
  dns_prefix                = var.name
  kubernetes_version        = var.kubernetes_version
  sku_tier                  = var.sku_tier
  automatic_upgrade_channel = "patch"
  node_os_upgrade_channel   = "NodeImage"

  # Pods get Azure tokens through federated service accounts; no secrets in the cluster.
  oidc_issuer_enabled       = true
  workload_identity_enabled = true

  local_account_disabled            = true
  role_based_access_control_enabled = true
  azure_policy_enabled              = true
  image_cleaner_enabled             = true
  image_cleaner_interval_hours      = 48

  azure_active_directory_role_based_access_control {
    azure_rbac_enabled     = true
    tenant_id              = var.tenant_id
    admin_group_object_ids = var.admin_group_object_ids
  }

  default_node_pool {
    name                         = "system"
    vm_size                      = var.system_pool.vm_size
    auto_scaling_enabled         = true
    min_count                    = var.system_pool.min_count
    max_count                    = var.system_pool.max_count
    zones                        = var.system_pool.zones
    vnet_subnet_id               = var.vnet_subnet_id
    only_critical_addons_enabled = true
    os_sku                       = "AzureLinux"
    temporary_name_for_rotation  = "systemtmp"
    max_pods                     = 110
    # Ephemeral OS disks live on the VM's local disk: faster node starts and no managed-disk cost.
    os_disk_type            = "Ephemeral"
    os_disk_size_gb         = var.system_pool.os_disk_size_gb
    host_encryption_enabled = true

    upgrade_settings {
      max_surge = "10%"
    }
  }

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.control_plane.id]
  }

  network_profile {
    network_plugin      = "azure"
    network_plugin_mode = "overlay"
    network_data_plane  = "cilium"
    network_policy      = "cilium"
    load_balancer_sku   = "standard"
    outbound_type       = "userAssignedNATGateway"
  }

  dynamic "api_server_access_profile" {
    for_each = length(var.authorized_ip_ranges) > 0 ? [1] : []
    content {
      authorized_ip_ranges = var.authorized_ip_ranges
    }
  }

  oms_agent {
    log_analytics_workspace_id      = var.log_analytics_workspace_id
    msi_auth_for_monitoring_enabled = true
  }

  key_vault_secrets_provider {
    secret_rotation_enabled = true
  }

  # Managed Prometheus (ama-metrics): node, kubelet and, with the scrape config, DCGM GPU metrics.
  monitor_metrics {}

  tags = var.tags

  lifecycle {
    # The cluster autoscaler owns node counts.
    ignore_changes = [default_node_pool[0].node_count]
  }

  depends_on = [azurerm_role_assignment.control_plane_network]
}

resource "azurerm_kubernetes_cluster_node_pool" "gpu" {
  for_each              = var.gpu_node_pools
  name                  = each.key
  kubernetes_cluster_id = azurerm_kubernetes_cluster.this.id
  mode                  = "User"
  vm_size               = each.value.vm_size
  priority              = each.value.priority
  eviction_policy       = each.value.eviction_policy
  spot_max_price        = each.value.spot_max_price
  # min_count = 0 lets the autoscaler remove every GPU node when no training runs.
  auto_scaling_enabled = true
  min_count            = each.value.min_count
  max_count            = each.value.max_count
  node_count           = each.value.min_count
  zones                = each.value.zones
  vnet_subnet_id       = var.vnet_subnet_id
  os_sku               = "Ubuntu"
  os_disk_size_gb      = each.value.os_disk_size_gb
  max_pods             = 110
  # Needs the subscription feature Microsoft.Compute/EncryptionAtHost (docs/infra.md, deployment order).
  host_encryption_enabled = true
  # AKS installs the driver; the GPU operator (post-apply, docs/infra.md) adds the device plugin that advertises
  # nvidia.com/gpu, and the DCGM exporter. Without the operator no pod can request a GPU.
  gpu_driver  = "Install"
  node_labels = each.value.node_labels
  node_taints = each.value.node_taints
  tags        = var.tags

  lifecycle {
    ignore_changes = [node_count]
  }
}

resource "azurerm_monitor_diagnostic_setting" "control_plane" {
  name                           = "diag-${var.name}"
  target_resource_id             = azurerm_kubernetes_cluster.this.id
  log_analytics_workspace_id     = var.log_analytics_workspace_id
  log_analytics_destination_type = "Dedicated"

  # Audit for who did what; the autoscaler log explains Spot evictions and scale-ups.
  enabled_log {
    category = "kube-audit-admin"
  }
  enabled_log {
    category = "cluster-autoscaler"
  }
  enabled_log {
    category = "guard"
  }
}

# The Prometheus rule and its endpoint, associated with the cluster (the metrics add-on reads both).
resource "azurerm_monitor_data_collection_rule_association" "prometheus" {
  name                    = "dcra-prometheus-${var.name}"
  target_resource_id      = azurerm_kubernetes_cluster.this.id
  data_collection_rule_id = var.prometheus.data_collection_rule_id
}

resource "azurerm_monitor_data_collection_rule_association" "prometheus_endpoint" {
  # Azure requires this exact name for an endpoint association.
  name                        = "configurationAccessEndpoint"
  target_resource_id          = azurerm_kubernetes_cluster.this.id
  data_collection_endpoint_id = var.prometheus.data_collection_endpoint_id
}

resource "azurerm_monitor_data_collection_rule_association" "container_insights" {
  name                    = "dcra-ci-${var.name}"
  target_resource_id      = azurerm_kubernetes_cluster.this.id
  data_collection_rule_id = var.container_insights_data_collection_rule_id
}
