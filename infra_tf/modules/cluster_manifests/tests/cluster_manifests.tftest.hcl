# Runs offline: `terraform init && terraform test` in this folder (no provider needed).
variables {
  training_domains = {
    default = { service_account = "robotics-trainer", identity_client_id = "11111111-1111-1111-1111-111111111111" }
    teama   = { service_account = "robotics-trainer-teama", identity_client_id = "22222222-2222-2222-2222-222222222222" }
  }
  orchestrator = {
    principal_id       = "33333333-3333-3333-3333-333333333333"
    namespace          = "dagster"
    service_account    = "dagster"
    identity_client_id = "44444444-4444-4444-4444-444444444444"
  }
  private_endpoint_cidrs = ["10.40.16.0/24"]
}

run "orchestrator_may_manage_pods_only" {
  command = apply

  assert {
    condition = alltrue([
      for m in output.manifests : alltrue([
        for rule in m.rules : alltrue([for r in rule.resources : r == "pods" || r == "pods/log" || r == "events"])
      ]) if m.kind == "Role"
    ])
    error_message = "the orchestrator's Role names pods (and read-only events) only"
  }
  assert {
    condition = alltrue([
      for m in output.manifests : alltrue([
        for rule in m.rules : rule.resources == ["pods"] || alltrue([for v in rule.verbs : contains(["get", "list", "watch"], v)])
      ]) if m.kind == "Role"
    ])
    error_message = "only pods may be written; logs and events are read-only"
  }
  assert {
    condition     = length([for m in output.manifests : m if m.kind == "RoleBinding" && m.subjects[0].name == "33333333-3333-3333-3333-333333333333" && m.metadata.namespace == "robotics"]) == 1
    error_message = "the Role is bound to the orchestrator's object ID in the training namespace"
  }
  assert {
    condition     = length([for m in output.manifests : m if contains(["ClusterRole", "ClusterRoleBinding"], m.kind)]) == 0
    error_message = "nothing cluster-wide is granted"
  }
}

run "every_domain_gets_a_federated_service_account" {
  command = apply

  assert {
    condition = toset([
      for m in output.manifests : m.metadata.annotations["azure.workload.identity/client-id"]
      if m.kind == "ServiceAccount" && m.metadata.namespace == "robotics"
    ]) == toset(["11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"])
    error_message = "each training domain's service account carries its own identity's client ID"
  }
  assert {
    condition     = alltrue([for m in output.manifests : m.automountServiceAccountToken == false if m.kind == "ServiceAccount" && m.metadata.namespace == "robotics"])
    error_message = "training service accounts never mount an API token"
  }
}

run "trainer_egress_is_an_allow_list" {
  command = apply

  assert {
    condition     = length([for m in output.manifests : m if m.kind == "NetworkPolicy"]) == 1
    error_message = "one policy per workload namespace (no OSMO here)"
  }
  assert {
    condition = alltrue([for m in output.manifests : (
      m.spec.podSelector == {} && toset(m.spec.policyTypes) == toset(["Ingress", "Egress"]) &&
      alltrue([for rule in m.spec.egress : length(rule.ports) > 0])
    ) if m.kind == "NetworkPolicy"])
    error_message = "every pod of the namespace: no ingress, and every egress rule names its ports"
  }
  assert {
    condition = alltrue(flatten([for m in output.manifests : [
      for rule in m.spec.egress : [
        for peer in rule.to : contains(peer.ipBlock.except, "169.254.0.0/16") && contains(peer.ipBlock.except, "10.0.0.0/8")
        if try(peer.ipBlock.cidr, "") == "0.0.0.0/0"
      ]
    ] if m.kind == "NetworkPolicy"]))
    error_message = "public HTTPS excludes private ranges and the metadata endpoint"
  }
  assert {
    condition     = strcontains(output.yaml, "10.40.16.0/24") && startswith(output.yaml, "---\n")
    error_message = "the private endpoint subnet is allowed on 443; the YAML stream is what kubectl applies"
  }
}

run "closed_egress_keeps_only_dns_and_private_endpoints" {
  command = apply

  variables {
    allow_public_https = false
  }

  assert {
    condition     = !strcontains(output.yaml, "0.0.0.0/0")
    error_message = "without public HTTPS, no rule reaches the internet"
  }
}

run "osmo_workflow_pods_get_the_same_fence" {
  command = apply

  variables {
    osmo = { workflow_namespace = "osmo-workflows", workflow_service_account = "osmo-workflow", identity_client_id = "11111111-1111-1111-1111-111111111111" }
  }

  assert {
    condition     = toset([for m in output.manifests : m.metadata.namespace if m.kind == "NetworkPolicy"]) == toset(["robotics", "osmo-workflows"])
    error_message = "OSMO's workflow namespace gets the trainer egress policy too"
  }
}

run "rejects_a_bad_namespace" {
  command = plan

  variables {
    training_namespace = "Robotics_NS"
  }

  expect_failures = [var.training_namespace]
}
