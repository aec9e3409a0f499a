output "training_client_id" {
  description = "Client ID of the training identity (the service account's azure.workload.identity/client-id annotation)."
  value       = azurerm_user_assigned_identity.training.client_id
}

output "orchestrator_client_id" {
  description = "Client ID of the orchestrator identity."
  value       = azurerm_user_assigned_identity.orchestrator.client_id
}

output "training_service_account" {
  description = "Namespace and name of the training service account the federated credential trusts."
  value       = var.training_service_account
}

output "role_assignments" {
  description = "Granted roles keyed by grant name (role @ scope), for review."
  value       = { for key, grant in local.grants : key => "${grant.role} @ ${grant.scope}" }
}
