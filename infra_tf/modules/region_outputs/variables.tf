variable "location" {
  type        = string
  description = "Azure region name (ARM spelling, e.g. eastus)."
}

variable "subscription_id" {
  type        = string
  description = "Subscription (GUID) that holds the region's resources."

  validation {
    condition     = can(regex("^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$", var.subscription_id))
    error_message = "subscription_id must be a GUID."
  }
}

variable "resource_group" {
  type        = string
  description = "Name of the region's resource group."
}

variable "aks" {
  description = <<-EOT
    The region's AKS cluster as launchers see it: ARM ID, name, OIDC issuer, Kubernetes version; the training
    namespace, the default training service account and its identity's client ID; the training domains (per domain:
    service account, identity client ID and the task-name patterns whose storage prefixes it may write); the
    orchestrator's namespace, service account and identity client ID.
  EOT
  type = object({
    id                              = string
    cluster_name                    = string
    oidc_issuer_url                 = string
    kubernetes_version              = string
    namespace                       = string
    training_service_account        = string
    training_identity_client_id     = string
    training_domains                = map(object({ service_account = string, identity_client_id = string, tasks = list(string) }))
    orchestrator_namespace          = string
    orchestrator_service_account    = string
    orchestrator_identity_client_id = string
  })
}

variable "gpu_node_pools" {
  description = "Per GPU pool: vm_size, priority, gpus_per_node, autoscale bounds, USD per node-hour (null if unknown), node_selector and taints (the gpu_node_pools module's contract output)."
  type = map(object({
    vm_size        = string
    priority       = string
    gpus_per_node  = number
    min_count      = number
    max_count      = number
    price_per_hour = number
    node_selector  = map(string)
    taints         = list(object({ key = string, value = string, effect = string }))
  }))
}

variable "default_gpu_pool" {
  type        = string
  description = "The GPU pool launchers use unless a region's settings name another (null when the region has no GPU pool)."
  default     = null

  validation {
    condition     = var.default_gpu_pool == null || contains(keys(var.gpu_node_pools), coalesce(var.default_gpu_pool, "-"))
    error_message = "default_gpu_pool must name one of gpu_node_pools (or be null when there is none)."
  }
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

variable "ml_workspace_name" {
  type        = string
  description = "Name of the region's Azure ML workspace (MLflow tracking and the model registry)."
}

variable "mlflow_tracking_uri" {
  type        = string
  description = "MLflow tracking URI of the region's Azure ML workspace (azureml://...)."
}

variable "osmo" {
  description = <<-EOT
    NVIDIA OSMO for this region: whether its dependencies are deployed, the pool to submit to, the service URL (null
    until OSMO is installed), the client ID of OSMO's own identity (control plane, router, backend operator), the
    blob container OSMO keeps workflow data and logs in, and the namespace and service account its workflow pods
    run as (federated with the default training identity). All but `enabled` are null when OSMO is off.
  EOT
  type = object({
    enabled                  = bool
    pool                     = string
    service_url              = string
    identity_client_id       = string
    bucket                   = string
    workflow_namespace       = string
    workflow_service_account = string
  })

  validation {
    condition     = !var.osmo.enabled || (var.osmo.pool != null && var.osmo.pool != "")
    error_message = "osmo.pool must be set when osmo.enabled is true."
  }
  validation {
    condition     = !var.osmo.enabled || alltrue([for key in ["identity_client_id", "bucket", "workflow_namespace", "workflow_service_account"] : var.osmo[key] != null])
    error_message = "osmo.identity_client_id, bucket, workflow_namespace and workflow_service_account must be set when osmo.enabled is true."
  }
}

variable "gpu_price_per_hour" {
  type        = number
  description = "USD per GPU-hour in the region's default GPU pool (null when the region has no GPU pool)."
  default     = null
}
