output "settings" {
  description = "The region's entry of the root `regions` output (docs/architecture.md, \"Region settings\")."
  value       = local.settings
}
