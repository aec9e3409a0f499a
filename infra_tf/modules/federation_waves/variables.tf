variable "federations" {
  description = "Federated credentials keyed by name: the identity (a stable key, not an ARM ID) they belong to, whether they are that identity's own (primary) service account, and the service account's namespace and name."
  type = map(object({
    identity  = string
    primary   = bool
    namespace = string
    name      = string
  }))

  validation {
    condition     = alltrue([for f in values(var.federations) : length([for g in values(var.federations) : g if g.identity == f.identity]) <= 5])
    error_message = "At most 5 federated credentials per identity (they are written in 5 sequential waves)."
  }
}
