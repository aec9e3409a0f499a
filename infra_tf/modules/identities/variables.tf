variable "names" {
  description = "Names from the naming module: training_identity, orchestrator_identity and osmo_identity."
  type = object({
    training_identity     = string
    orchestrator_identity = string
    osmo_identity         = string
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

variable "training_namespace" {
  type        = string
  description = "Kubernetes namespace of training pods (every training domain's service account lives there)."
  default     = "robotics"
}

variable "training_domains" {
  description = <<-EOT
    Trust domains of training, keyed by name; each gets its own identity and service account (default
    robotics-trainer-<name>, robotics-trainer for the default domain). `tasks` are task-name patterns (* is a wildcard): the
    domain may write checkpoints/models only under <task>/ and kernel-cache/<task>/ for those; the pattern * alone means any task.
    A domain named default is required (OSMO's workflow pods and launchers without a domain use it).
  EOT
  type = map(object({
    service_account = optional(string)
    tasks           = list(string)
  }))
  default = { default = { tasks = ["*"] } }

  validation {
    condition     = contains(keys(var.training_domains), "default")
    error_message = "training_domains must contain a \"default\" domain."
  }
  validation {
    condition     = alltrue([for name in keys(var.training_domains) : can(regex("^[a-z0-9]([-a-z0-9]{0,18}[a-z0-9])?$", name))])
    error_message = "training_domains keys must be 1-20 lowercase letters, digits or dashes."
  }
  validation {
    condition = alltrue(flatten([for d in values(var.training_domains) : [
      for task in d.tasks : can(regex("^[A-Za-z0-9_.*-]+$", task))
    ]]))
    error_message = "training_domains tasks must be task names or patterns (letters, digits, _ . - and *), no slashes or quotes."
  }
  validation {
    condition     = alltrue([for d in values(var.training_domains) : length(d.tasks) > 0])
    error_message = "every training domain needs at least one task pattern."
  }
}

variable "orchestrator_service_account" {
  description = "Kubernetes namespace and service account of the Dagster deployment (webserver, daemon, run workers)."
  type = object({
    namespace = string
    name      = string
  })
  default = { namespace = "dagster", name = "dagster" }
}

variable "osmo" {
  description = "OSMO (null: not deployed): its bucket container's ARM scope, the workflow namespace and service account (federated with the default training identity), and OSMO's own service accounts (federated with the OSMO identity), at most 5."
  type = object({
    bucket_scope             = string
    workflow_namespace       = optional(string, "osmo-workflows")
    workflow_service_account = optional(string, "osmo-workflow")
    service_accounts = optional(map(object({ namespace = string, name = string })), {
      control-plane    = { namespace = "osmo-control-plane", name = "osmo-control-plane" }
      router           = { namespace = "osmo-control-plane", name = "router" }
      backend-listener = { namespace = "osmo-operator", name = "osmo-operator-backend-listener" }
      backend-worker   = { namespace = "osmo-operator", name = "osmo-operator-backend-worker" }
    })
  })
  default = null

  validation {
    condition     = var.osmo == null ? true : length(var.osmo.service_accounts) <= 5
    error_message = "osmo.service_accounts: at most 5 (federated credentials are written in 5 sequential waves)."
  }
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
