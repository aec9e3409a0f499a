output "manifests" {
  description = "The cluster objects, in apply order: namespaces, service accounts, the orchestrator's Role and RoleBinding, the trainers' NetworkPolicies, the DCGM scrape ConfigMap."
  value       = local.manifests
}

output "yaml" {
  description = "The same objects as one multi-document YAML stream for `kubectl apply -f -`."
  value       = join("", [for m in local.manifests : "---\n${yamlencode(m)}"])
}
