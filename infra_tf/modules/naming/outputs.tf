output "names" {
  description = "Resource names for this prefix, environment, region and instance, keyed by resource kind."
  value       = local.names
}

output "region_code" {
  description = "Short code of the region used inside length-capped names (\"glb\" for global resources)."
  value       = local.region_code
}
