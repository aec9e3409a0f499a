output "regions" {
  description = "Region settings keyed by region: `terraform output -json regions > FILE` is the file robotics_assets reads (docs/architecture.md)."
  value       = { for name, region in module.region : name => region.settings }
}

output "container_registry_login_server" {
  description = "Login server of the global registry (push the trainer image here)."
  value       = module.container_registry.login_server
}

output "role_assignments" {
  description = "Roles granted per region (role @ scope), for review."
  value       = { for name, region in module.region : name => region.role_assignments }
}

output "osmo_dependencies" {
  description = "Per region: PostgreSQL and Redis endpoints and Key Vault secret IDs for OSMO's Helm values (null where not deployed)."
  value       = { for name, region in module.region : name => region.osmo_dependencies }
}

output "cluster_manifests" {
  description = "Per region, the Kubernetes objects (YAML) that scripts/post_apply.sh applies: service accounts, the orchestrator's pods-only Role, the trainers' egress NetworkPolicy, the DCGM scrape config."
  value       = { for name, region in module.region : name => region.cluster_manifests }
}
