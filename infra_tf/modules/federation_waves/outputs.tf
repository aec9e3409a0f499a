output "waves" {
  description = "Five maps of federations (same shape as the input); no identity appears twice in one map."
  value       = local.waves
}
