locals {
  service_accounts = {
    for domain, d in var.training_domains : domain => coalesce(d.service_account, domain == "default" ? "robotics-trainer" : "robotics-trainer-${domain}")
  }

  # Azure ABAC, condition version 2.0, on a Storage Blob Data Contributor assignment: writes, creates, deletes and
  # renames of blobs pass only under the domain's task prefixes (<task>/..., the run layout
  # <artifact_root>/<task>/<region>/<run_id> with artifact_root at a container's root) and its kernel caches
  # (kernel-cache/<task>/...). Reads are not conditioned. A domain with the pattern "*" gets no condition.
  write_actions = [
    "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write",
    "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action",
    "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete",
    "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/move/action",
  ]
  path = "@Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:path]"
  conditions = {
    for domain, d in var.training_domains : domain => contains(d.tasks, "*") ? null : format(
      "((%s) OR (%s))",
      join(" AND ", [for action in local.write_actions : "!(ActionMatches{'${action}'})"]),
      join(" OR ", flatten([for task in d.tasks : [
        "${local.path} StringLike '${task}/*'",
        "${local.path} StringLike 'kernel-cache/${task}/*'",
      ]])),
    )
  }
}
