variable "training_namespace" {
  type        = string
  description = "Namespace training pods run in; the orchestrator may manage pods here and nowhere else."
  default     = "robotics"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.training_namespace))
    error_message = "training_namespace must be a DNS-1123 label (lowercase letters, digits, dashes; at most 63)."
  }
}

variable "training_domains" {
  description = "Per training domain: its service account in the training namespace and the client ID of the identity federated with it (identities module)."
  type = map(object({
    service_account    = string
    identity_client_id = string
  }))
}

variable "orchestrator" {
  description = "The orchestrator (Dagster): the object ID of its Entra identity (the RoleBinding's subject: AKS names service principals by object ID), its namespace, service account and identity client ID."
  type = object({
    principal_id       = string
    namespace          = string
    service_account    = string
    identity_client_id = string
  })
}

variable "osmo" {
  description = "OSMO workflow pods (null: no OSMO): their namespace and service account, and the client ID of the identity they run as."
  type = object({
    workflow_namespace       = string
    workflow_service_account = string
    identity_client_id       = string
  })
  default = null
}

variable "private_endpoint_cidrs" {
  type        = list(string)
  description = "Subnets holding the region's private endpoints (storage, Key Vault, Azure ML, registry): trainers may reach them on 443."
  default     = []
}

variable "allow_public_https" {
  type        = bool
  description = "Let trainers reach public addresses on 443 (Entra ID token exchange always needs it; storage and MLflow too without private endpoints). Private ranges, IMDS and the Azure host address stay blocked either way."
  default     = true
}

variable "pod_security_enforce" {
  type        = string
  description = "Pod Security Admission level enforced in the training namespace (restricted is warned and audited there and in OSMO's workflow namespace)."
  default     = "baseline"

  validation {
    condition     = contains(["privileged", "baseline", "restricted"], var.pod_security_enforce)
    error_message = "pod_security_enforce must be privileged, baseline or restricted."
  }
}

variable "gpu_metrics_scrape" {
  type        = bool
  description = "Add the ama-metrics scrape config for the GPU operator's DCGM exporter (managed Prometheus)."
  default     = true
}
