output "settings" {
  description = "This region's entry of the root `regions` output (docs/architecture.md, \"Region settings\")."
  value       = module.region_outputs.settings
}

output "role_assignments" {
  description = "Roles granted in this region (role @ scope), for review."
  value       = module.identities.role_assignments
}

output "osmo_dependencies" {
  description = "PostgreSQL and Redis endpoints for OSMO's Helm values (null when not deployed)."
  value       = try(module.osmo_dependencies[0], null)
}
