variable "location" {
  type        = string
  description = "Azure region name (ARM spelling, e.g. eastus)."
}

variable "resource_group" {
  type        = string
  description = "Name of the region's resource group."
}

variable "aks" {
  description = "The region's AKS cluster as launchers see it: name, OIDC issuer, training namespace and service account, the training identity's client ID, Kubernetes version."
  type = object({
    cluster_name                = string
    oidc_issuer_url             = string
    namespace                   = string
    training_service_account    = string
    training_identity_client_id = string
    kubernetes_version          = string
  })
}

variable "gpu_node_pools" {
  description = "Per GPU pool: vm_size, priority, gpus_per_node, node_selector and taints (the gpu_node_pools module's contract output)."
  type = map(object({
    vm_size       = string
    priority      = string
    gpus_per_node = number
    node_selector = map(string)
    taints        = list(object({ key = string, value = string, effect = string }))
  }))
}

variable "container_registry" {
  description = "Registry login server and the full trainer image reference launchers run."
  type = object({
    login_server  = string
    trainer_image = string
  })
}

variable "storage" {
  description = "Storage account name, blob endpoint and container names for checkpoints, models, task_configs and pipes."
  type = object({
    account_name  = string
    blob_endpoint = string
    containers = object({
      checkpoints  = string
      models       = string
      task_configs = string
      pipes        = string
    })
  })
}

variable "key_vault_uri" {
  type        = string
  description = "The region's Key Vault URI (https://<name>.vault.azure.net/)."
}

variable "mlflow_tracking_uri" {
  type        = string
  description = "MLflow tracking URI of the region's Azure ML workspace (azureml://...)."
}

variable "osmo" {
  description = "NVIDIA OSMO for this region: whether its dependencies are deployed, the pool to submit to, and the service URL (null until OSMO is installed)."
  type = object({
    enabled     = bool
    pool        = string
    service_url = string
  })

  validation {
    condition     = !var.osmo.enabled || (var.osmo.pool != null && var.osmo.pool != "")
    error_message = "osmo.pool must be set when osmo.enabled is true."
  }
}

variable "gpu_price_per_hour" {
  type        = number
  description = "USD per GPU-hour in the region's default GPU pool (null when the region has no GPU pool)."
  default     = null
}
