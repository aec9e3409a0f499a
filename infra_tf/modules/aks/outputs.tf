output "id" {
  description = "Cluster ID."
  value       = azurerm_kubernetes_cluster.this.id
}

output "name" {
  description = "Cluster name."
  value       = azurerm_kubernetes_cluster.this.name
}

output "oidc_issuer_url" {
  description = "OIDC issuer that federated identity credentials trust."
  value       = azurerm_kubernetes_cluster.this.oidc_issuer_url
}

output "kubelet_object_id" {
  description = "Object ID of the kubelet identity (pulls images from the registry)."
  value       = azurerm_kubernetes_cluster.this.kubelet_identity[0].object_id
}

output "kubernetes_version" {
  description = "Kubernetes minor version the cluster runs."
  value       = var.kubernetes_version
}

output "gpu_node_pool_ids" {
  description = "GPU node pool IDs keyed by pool name."
  value       = { for name, pool in azurerm_kubernetes_cluster_node_pool.gpu : name => pool.id }
}
