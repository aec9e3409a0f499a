output "service_accounts" {
  description = "Kubernetes service account name per training domain."
  value       = local.service_accounts
}

output "conditions" {
  description = "ABAC condition (version 2.0) per domain for its checkpoint and model container grants; null: unrestricted."
  value       = local.conditions
}
