# Runs offline: `terraform init && terraform test` in this folder (no provider needed).
variables {
  federations = {
    training-default = { identity = "training-default", primary = true, namespace = "robotics", name = "robotics-trainer" }
    osmo-workflow    = { identity = "training-default", primary = false, namespace = "osmo-workflows", name = "osmo-workflow" }
    orchestrator     = { identity = "orchestrator", primary = true, namespace = "dagster", name = "dagster" }
    osmo-a           = { identity = "osmo", primary = false, namespace = "osmo-control-plane", name = "a" }
    osmo-b           = { identity = "osmo", primary = false, namespace = "osmo-control-plane", name = "b" }
    osmo-c           = { identity = "osmo", primary = false, namespace = "osmo-operator", name = "c" }
  }
}

run "no_identity_is_written_twice_in_one_wave" {
  command = apply

  assert {
    condition     = alltrue([for wave in output.waves : length(distinct([for f in values(wave) : f.identity])) == length(wave)])
    error_message = "two credentials of one identity in the same wave would be written concurrently"
  }
  assert {
    condition     = sum([for wave in output.waves : length(wave)]) == 6
    error_message = "every credential lands in exactly one wave"
  }
}

run "an_identitys_own_account_comes_first" {
  command = apply

  assert {
    # "osmo-workflow" sorts before "training-default", yet the primary credential stays in wave 0
    condition     = contains(keys(output.waves[0]), "training-default") && contains(keys(output.waves[1]), "osmo-workflow")
    error_message = "the identity's own service account is written in wave 0, others after it"
  }
  assert {
    condition     = contains(keys(output.waves[0]), "orchestrator") && length(output.waves[3]) == 0
    error_message = "three OSMO credentials take waves 0-2"
  }
}

run "refuses_more_than_five_per_identity" {
  command = plan

  variables {
    federations = { for n in range(6) : "x${n}" => { identity = "osmo", primary = false, namespace = "n", name = "s${n}" } }
  }

  expect_failures = [var.federations]
}
