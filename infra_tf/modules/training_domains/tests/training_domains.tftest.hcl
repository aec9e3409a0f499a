# Runs offline: `terraform init && terraform test` in this folder (no provider needed).
run "the_default_domain_is_unrestricted" {
  command = apply

  assert {
    condition     = output.conditions["default"] == null && output.service_accounts["default"] == "robotics-trainer"
    error_message = "one catch-all domain keeps today's behaviour: no condition, the robotics-trainer account"
  }
}

run "a_domain_writes_only_under_its_tasks" {
  command = apply

  variables {
    training_domains = {
      default = { tasks = ["*"] }
      teama   = { tasks = ["cartpole", "ant-*"] }
    }
  }

  assert {
    condition     = output.service_accounts["teama"] == "robotics-trainer-teama"
    error_message = "each domain gets its own service account"
  }
  assert {
    condition = alltrue([for fragment in [
      "StringLike 'cartpole/*'", "StringLike 'kernel-cache/cartpole/*'", "StringLike 'ant-*/*'",
      "!(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write'})",
      "!(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete'})",
    ] : strcontains(output.conditions["teama"], fragment)])
    error_message = "the condition names every write action and every task prefix of the domain"
  }
}

run "requires_a_default_domain" {
  command = plan

  variables {
    training_domains = { teama = { tasks = ["cartpole"] } }
  }

  expect_failures = [var.training_domains]
}

run "refuses_a_pattern_that_could_break_out_of_the_condition" {
  command = plan

  variables {
    training_domains = { default = { tasks = ["*"] }, evil = { tasks = ["x/*' OR 'a' StringLike 'a"] } }
  }

  expect_failures = [var.training_domains]
}
