# One identity per training domain: ABAC conditions on its storage grants let it write only under its own tasks'
# prefixes, so a trainer of one domain cannot overwrite another domain's checkpoints or models.
resource "azurerm_user_assigned_identity" "training" {
  for_each            = var.training_domains
  name                = each.key == "default" ? var.names.training_identity : "${var.names.training_identity}-${each.key}"
  location            = var.location
  resource_group_name = var.resource_group_name
  tags                = var.tags
}

resource "azurerm_user_assigned_identity" "orchestrator" {
  name                = var.names.orchestrator_identity
  location            = var.location
  resource_group_name = var.resource_group_name
  tags                = var.tags
}

# OSMO's own services (control plane, router, backend operator): workflow data and logs in the OSMO container.
resource "azurerm_user_assigned_identity" "osmo" {
  count               = var.osmo == null ? 0 : 1
  name                = var.names.osmo_identity
  location            = var.location
  resource_group_name = var.resource_group_name
  tags                = var.tags
}

module "federation_waves" {
  source      = "../federation_waves"
  federations = local.federations
}

module "domains" {
  source           = "../training_domains"
  training_domains = var.training_domains
}

locals {
  default_domain  = "default"
  domain_accounts = module.domains.service_accounts

  # Workload identity: a pod running as the named service account exchanges its projected token for an Entra token.
  federations = merge(
    { for domain, sa in local.domain_accounts : "training-${domain}" => {
      identity = "training-${domain}", primary = true, namespace = var.training_namespace, name = sa
    } },
    { orchestrator = {
      identity  = "orchestrator", primary = true
      namespace = var.orchestrator_service_account.namespace, name = var.orchestrator_service_account.name
    } },
    # Trainers launched through OSMO run as its workflow service account: they get the default domain's rights.
    var.osmo == null ? {} : { osmo-workflow = {
      identity  = "training-${local.default_domain}", primary = false
      namespace = var.osmo.workflow_namespace, name = var.osmo.workflow_service_account
    } },
    var.osmo == null ? {} : { for key, sa in var.osmo.service_accounts : "osmo-${key}" => {
      identity = "osmo", primary = false, namespace = sa.namespace, name = sa.name
    } },
  )
  identity_ids = merge(
    { for domain, identity in azurerm_user_assigned_identity.training : "training-${domain}" => identity.id },
    { orchestrator = azurerm_user_assigned_identity.orchestrator.id },
    { for identity in azurerm_user_assigned_identity.osmo : "osmo" => identity.id },
  )
  # Written in sequential waves (Azure refuses concurrent writes under one identity): modules/federation_waves.
  waves = module.federation_waves.waves

  training     = { for domain, identity in azurerm_user_assigned_identity.training : domain => identity.principal_id }
  orchestrator = azurerm_user_assigned_identity.orchestrator.principal_id
  containers   = var.scopes.storage_containers

  # ABAC conditions per domain (modules/training_domains): writes only under the domain's task prefixes.
  conditions = module.domains.conditions

  training_grants = merge([
    for domain, principal in local.training : merge(
      {
        "training-${domain}-checkpoints-write" = { principal = principal, role = "Storage Blob Data Contributor", scope = local.containers.checkpoints, condition = local.conditions[domain] }
        "training-${domain}-models-write"      = { principal = principal, role = "Storage Blob Data Contributor", scope = local.containers.models, condition = local.conditions[domain] }
        "training-${domain}-pipes-write"       = { principal = principal, role = "Storage Blob Data Contributor", scope = local.containers.pipes, condition = null }
        "training-${domain}-task-configs-read" = { principal = principal, role = "Storage Blob Data Reader", scope = local.containers.task_configs, condition = null }
        "training-${domain}-mlflow"            = { principal = principal, role = "AzureML Data Scientist", scope = var.scopes.ml_workspace_id, condition = null }
      },
      # OSMO's sidecars upload the workflow's logs and outputs as the workflow's identity (the default domain's).
      var.osmo != null && domain == local.default_domain ? {
        "training-${domain}-osmo-bucket" = { principal = principal, role = "Storage Blob Data Contributor", scope = var.osmo.bucket_scope, condition = null }
      } : {},
    )
  ]...)

  # Least privilege: each grant names the narrowest scope that works. The orchestrator writes task configs and Pipes
  # messages, reads the artifacts it records and the secrets it needs, and may fetch a kubeconfig; inside the
  # cluster it may manage pods in the training namespace only (a Kubernetes Role, modules/cluster_manifests).
  grants = merge(local.training_grants, {
    "orchestrator-task-configs" = { principal = local.orchestrator, role = "Storage Blob Data Contributor", scope = local.containers.task_configs, condition = null }
    "orchestrator-pipes"        = { principal = local.orchestrator, role = "Storage Blob Data Contributor", scope = local.containers.pipes, condition = null }
    "orchestrator-checkpoints"  = { principal = local.orchestrator, role = "Storage Blob Data Reader", scope = local.containers.checkpoints, condition = null }
    "orchestrator-models"       = { principal = local.orchestrator, role = "Storage Blob Data Reader", scope = local.containers.models, condition = null }
    "orchestrator-secrets"      = { principal = local.orchestrator, role = "Key Vault Secrets User", scope = var.scopes.key_vault_id, condition = null }
    "orchestrator-mlflow"       = { principal = local.orchestrator, role = "AzureML Data Scientist", scope = var.scopes.ml_workspace_id, condition = null }
    "orchestrator-cluster-user" = { principal = local.orchestrator, role = "Azure Kubernetes Service Cluster User Role", scope = var.scopes.aks_cluster_id, condition = null }
    "kubelet-registry-pull"     = { principal = var.kubelet_object_id, role = "AcrPull", scope = var.scopes.container_registry_id, condition = null }
    }, var.osmo == null ? {} : {
    "osmo-bucket"  = { principal = azurerm_user_assigned_identity.osmo[0].principal_id, role = "Storage Blob Data Contributor", scope = var.osmo.bucket_scope, condition = null }
    "osmo-secrets" = { principal = azurerm_user_assigned_identity.osmo[0].principal_id, role = "Key Vault Secrets User", scope = var.scopes.key_vault_id, condition = null }
  })
}

resource "azurerm_federated_identity_credential" "wave_0" {
  for_each            = local.waves[0]
  name                = "aks-${each.value.namespace}-${each.value.name}"
  resource_group_name = var.resource_group_name
  parent_id           = local.identity_ids[each.value.identity]
  issuer              = var.oidc_issuer_url
  subject             = "system:serviceaccount:${each.value.namespace}:${each.value.name}"
  audience            = ["api://AzureADTokenExchange"]
}

resource "azurerm_federated_identity_credential" "wave_1" {
  for_each            = local.waves[1]
  name                = "aks-${each.value.namespace}-${each.value.name}"
  resource_group_name = var.resource_group_name
  parent_id           = local.identity_ids[each.value.identity]
  issuer              = var.oidc_issuer_url
  subject             = "system:serviceaccount:${each.value.namespace}:${each.value.name}"
  audience            = ["api://AzureADTokenExchange"]

  depends_on = [azurerm_federated_identity_credential.wave_0]
}

resource "azurerm_federated_identity_credential" "wave_2" {
  for_each            = local.waves[2]
  name                = "aks-${each.value.namespace}-${each.value.name}"
  resource_group_name = var.resource_group_name
  parent_id           = local.identity_ids[each.value.identity]
  issuer              = var.oidc_issuer_url
  subject             = "system:serviceaccount:${each.value.namespace}:${each.value.name}"
  audience            = ["api://AzureADTokenExchange"]

  depends_on = [azurerm_federated_identity_credential.wave_1]
}

resource "azurerm_federated_identity_credential" "wave_3" {
  for_each            = local.waves[3]
  name                = "aks-${each.value.namespace}-${each.value.name}"
  resource_group_name = var.resource_group_name
  parent_id           = local.identity_ids[each.value.identity]
  issuer              = var.oidc_issuer_url
  subject             = "system:serviceaccount:${each.value.namespace}:${each.value.name}"
  audience            = ["api://AzureADTokenExchange"]

  depends_on = [azurerm_federated_identity_credential.wave_2]
}

resource "azurerm_federated_identity_credential" "wave_4" {
  for_each            = local.waves[4]
  name                = "aks-${each.value.namespace}-${each.value.name}"
  resource_group_name = var.resource_group_name
  parent_id           = local.identity_ids[each.value.identity]
  issuer              = var.oidc_issuer_url
  subject             = "system:serviceaccount:${each.value.namespace}:${each.value.name}"
  audience            = ["api://AzureADTokenExchange"]

  depends_on = [azurerm_federated_identity_credential.wave_3]
}

resource "azurerm_role_assignment" "this" {
  for_each             = local.grants
  scope                = each.value.scope
  role_definition_name = each.value.role
  principal_id         = each.value.principal
  principal_type       = "ServicePrincipal"
  description          = "robotics: ${each.key}"
  condition            = each.value.condition
  condition_version    = each.value.condition == null ? null : "2.0"
}

# Earlier versions had one training identity and one credential per identity: keep those objects (client IDs and
# role assignments) instead of recreating them under their new addresses.
moved {
  from = azurerm_user_assigned_identity.training
  to   = azurerm_user_assigned_identity.training["default"]
}

moved {
  from = azurerm_federated_identity_credential.training
  to   = azurerm_federated_identity_credential.wave_0["training-default"]
}

moved {
  from = azurerm_federated_identity_credential.orchestrator
  to   = azurerm_federated_identity_credential.wave_0["orchestrator"]
}

moved {
  from = azurerm_role_assignment.this["training-checkpoints-write"]
  to   = azurerm_role_assignment.this["training-default-checkpoints-write"]
}

moved {
  from = azurerm_role_assignment.this["training-models-write"]
  to   = azurerm_role_assignment.this["training-default-models-write"]
}

moved {
  from = azurerm_role_assignment.this["training-pipes-write"]
  to   = azurerm_role_assignment.this["training-default-pipes-write"]
}

moved {
  from = azurerm_role_assignment.this["training-task-configs-read"]
  to   = azurerm_role_assignment.this["training-default-task-configs-read"]
}

moved {
  from = azurerm_role_assignment.this["training-mlflow"]
  to   = azurerm_role_assignment.this["training-default-mlflow"]
}
