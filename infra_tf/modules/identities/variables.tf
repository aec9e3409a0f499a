variable "names" {
  description = "Names from the naming module: training_identity and orchestrator_identity."
  type = object({
    training_identity     = string
    orchestrator_identity = string
  })
}

variable "location" {
  type        = string
  description = "Azure region."
}

variable "resource_group_name" {
  type        = string
  description = "Resource group of the identities."
}

variable "oidc_issuer_url" {
  type        = string
  description = "The AKS cluster's OIDC issuer; federated credentials trust tokens it signs."
}

variable "training_service_account" {
  description = "Kubernetes namespace and service account of training pods."
  type = object({
    namespace = string
    name      = string
  })
  default = { namespace = "robotics", name = "robotics-trainer" }
}

variable "orchestrator_service_account" {
  description = "Kubernetes namespace and service account of the Dagster deployment (webserver, daemon, run workers)."
  type = object({
    namespace = string
    name      = string
  })
  default = { namespace = "dagster", name = "dagster" }
}

variable "scopes" {
  description = "Resources the identities get rights on: storage containers (ARM scopes keyed by purpose), Key Vault, registry, Azure ML workspace, AKS cluster."
  type = object({
    storage_containers = object({
      checkpoints  = string
      models       = string
      task_configs = string
      pipes        = string
    })
    key_vault_id          = string
    container_registry_id = string
    ml_workspace_id       = string
    aks_cluster_id        = string
  })
}

variable "kubelet_object_id" {
  type        = string
  description = "Object ID of the cluster's kubelet identity (gets AcrPull on the registry)."
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to the identities."
  default     = {}
}
