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
