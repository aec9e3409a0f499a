output "training_domains" {
  description = "Per training domain: service account, client ID of its identity, and the task patterns it may write."
  value = {
    for domain, identity in azurerm_user_assigned_identity.training : domain => {
      service_account    = local.domain_accounts[domain]
      identity_client_id = identity.client_id
      tasks              = var.training_domains[domain].tasks
    }
  }
}

output "training_client_id" {
  description = "Client ID of the default training identity (the service account's azure.workload.identity/client-id annotation)."
  value       = azurerm_user_assigned_identity.training["default"].client_id
}

output "training_service_account" {
  description = "Name of the default training domain's service account."
  value       = local.domain_accounts["default"]
}

output "orchestrator_client_id" {
  description = "Client ID of the orchestrator identity."
  value       = azurerm_user_assigned_identity.orchestrator.client_id
}

output "orchestrator_principal_id" {
  description = "Object ID of the orchestrator identity (the subject of its Kubernetes RoleBinding)."
  value       = azurerm_user_assigned_identity.orchestrator.principal_id
}

output "osmo_client_id" {
  description = "Client ID of OSMO's identity (null when OSMO is off)."
  value       = try(azurerm_user_assigned_identity.osmo[0].client_id, null)
}

output "role_assignments" {
  description = "Granted roles keyed by grant name (role @ scope, plus [ABAC condition] where one applies), for review."
  value       = { for key, grant in local.grants : key => "${grant.role} @ ${grant.scope}${grant.condition == null ? "" : " [${grant.condition}]"}" }
}
