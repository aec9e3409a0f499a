output "settings" {
  description = "This region's entry of the root `regions` output (docs/architecture.md, \"Region settings\")."
  value       = module.region_outputs.settings
}

output "role_assignments" {
  description = "Roles granted in this region (role @ scope), for review."
  value       = module.identities.role_assignments
}

output "osmo_dependencies" {
  description = "PostgreSQL and Redis endpoints and their Key Vault secrets for OSMO's Helm values (null when not deployed)."
  value       = try(module.osmo_dependencies[0], null)
}

output "cluster_manifests" {
  description = "Kubernetes objects of this region as one YAML stream, applied after terraform apply (scripts/post_apply.sh)."
  value       = module.cluster_manifests.yaml
}

output "log_analytics_workspace_id" {
  description = "The region's Log Analytics workspace."
  value       = module.monitoring.log_analytics_workspace_id
}
