resource "azurerm_user_assigned_identity" "training" {
  name                = var.names.training_identity
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

# Workload identity: a pod running as the named service account exchanges its projected token for an Entra token.
resource "azurerm_federated_identity_credential" "training" {
  name                = "aks-${var.training_service_account.namespace}-${var.training_service_account.name}"
  resource_group_name = var.resource_group_name
  parent_id           = azurerm_user_assigned_identity.training.id
  issuer              = var.oidc_issuer_url
  subject             = "system:serviceaccount:${var.training_service_account.namespace}:${var.training_service_account.name}"
  audience            = ["api://AzureADTokenExchange"]
}

resource "azurerm_federated_identity_credential" "orchestrator" {
  name                = "aks-${var.orchestrator_service_account.namespace}-${var.orchestrator_service_account.name}"
  resource_group_name = var.resource_group_name
  parent_id           = azurerm_user_assigned_identity.orchestrator.id
  issuer              = var.oidc_issuer_url
  subject             = "system:serviceaccount:${var.orchestrator_service_account.namespace}:${var.orchestrator_service_account.name}"
  audience            = ["api://AzureADTokenExchange"]
}

locals {
  training     = azurerm_user_assigned_identity.training.principal_id
  orchestrator = azurerm_user_assigned_identity.orchestrator.principal_id
  containers   = var.scopes.storage_containers

  # Least privilege: each grant names the narrowest scope that works. Trainers write checkpoints, models and
  # Pipes messages and only read task configs; the orchestrator writes task configs and Pipes messages, reads the
  # artifacts it records, reads secrets, and may create pods only in the training namespace.
  grants = {
    "training-checkpoints-write" = { principal = local.training, role = "Storage Blob Data Contributor", scope = local.containers.checkpoints }
    "training-models-write"      = { principal = local.training, role = "Storage Blob Data Contributor", scope = local.containers.models }
    "training-pipes-write"       = { principal = local.training, role = "Storage Blob Data Contributor", scope = local.containers.pipes }
    "training-task-configs-read" = { principal = local.training, role = "Storage Blob Data Reader", scope = local.containers.task_configs }
    "training-mlflow"            = { principal = local.training, role = "AzureML Data Scientist", scope = var.scopes.ml_workspace_id }
    "orchestrator-task-configs"  = { principal = local.orchestrator, role = "Storage Blob Data Contributor", scope = local.containers.task_configs }
    "orchestrator-pipes"         = { principal = local.orchestrator, role = "Storage Blob Data Contributor", scope = local.containers.pipes }
    "orchestrator-checkpoints"   = { principal = local.orchestrator, role = "Storage Blob Data Reader", scope = local.containers.checkpoints }
    "orchestrator-models"        = { principal = local.orchestrator, role = "Storage Blob Data Reader", scope = local.containers.models }
    "orchestrator-secrets"       = { principal = local.orchestrator, role = "Key Vault Secrets User", scope = var.scopes.key_vault_id }
    "orchestrator-mlflow"        = { principal = local.orchestrator, role = "AzureML Data Scientist", scope = var.scopes.ml_workspace_id }
    "orchestrator-cluster-user"  = { principal = local.orchestrator, role = "Azure Kubernetes Service Cluster User Role", scope = var.scopes.aks_cluster_id }
    "orchestrator-training-pods" = { principal = local.orchestrator, role = "Azure Kubernetes Service RBAC Writer", scope = "${var.scopes.aks_cluster_id}/namespaces/${var.training_service_account.namespace}" }
    "kubelet-registry-pull"      = { principal = var.kubelet_object_id, role = "AcrPull", scope = var.scopes.container_registry_id }
  }
}

resource "azurerm_role_assignment" "this" {
  for_each             = local.grants
  scope                = each.value.scope
  role_definition_name = each.value.role
  principal_id         = each.value.principal
  principal_type       = "ServicePrincipal"
  description          = "robotics: ${each.key}"
}
