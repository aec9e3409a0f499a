locals {
  workload_namespaces = concat([var.training_namespace], var.osmo == null ? [] : [var.osmo.workflow_namespace])

  namespaces = [
    for ns in distinct(concat(local.workload_namespaces, [var.orchestrator.namespace])) : {
      apiVersion = "v1"
      kind       = "Namespace"
      metadata = {
        name = ns
        # Enforced where our launchers build the pods; OSMO builds its own (sidecars included): warn and audit only.
        labels = merge(
          ns == var.training_namespace ? { "pod-security.kubernetes.io/enforce" = var.pod_security_enforce } : {},
          contains(local.workload_namespaces, ns) ? {
            "pod-security.kubernetes.io/warn"  = "restricted"
            "pod-security.kubernetes.io/audit" = "restricted"
          } : {},
        )
      }
    }
  ]

  # Workload identity: the webhook exchanges a pod's projected token for the annotated identity's Entra token.
  # No API token is mounted: training pods never talk to the Kubernetes API.
  service_accounts = concat(
    [for domain, d in var.training_domains : {
      apiVersion                   = "v1"
      kind                         = "ServiceAccount"
      automountServiceAccountToken = false
      metadata = {
        name        = d.service_account
        namespace   = var.training_namespace
        labels      = { "robotics.example.com/training-domain" = domain }
        annotations = { "azure.workload.identity/client-id" = d.identity_client_id }
      }
    }],
    var.osmo == null ? [] : [{
      apiVersion                   = "v1"
      kind                         = "ServiceAccount"
      automountServiceAccountToken = false
      metadata = {
        name        = var.osmo.workflow_service_account
        namespace   = var.osmo.workflow_namespace
        annotations = { "azure.workload.identity/client-id" = var.osmo.identity_client_id }
      }
    }],
    # The orchestrator's own pods (webserver, daemon, run workers) use this one; they do call the API server.
    [{
      apiVersion = "v1"
      kind       = "ServiceAccount"
      metadata = {
        name        = var.orchestrator.service_account
        namespace   = var.orchestrator.namespace
        annotations = { "azure.workload.identity/client-id" = var.orchestrator.identity_client_id }
      }
    }],
  )

  # Pods only: what dagster-k8s' PipesK8sClient and the k8s backend call (create, read, watch, list, delete pods;
  # read their logs), plus read-only events for its failure diagnostics. No secrets, no exec, no other kinds.
  orchestrator_role = {
    apiVersion = "rbac.authorization.k8s.io/v1"
    kind       = "Role"
    metadata   = { name = "robotics-orchestrator-pods", namespace = var.training_namespace }
    rules = [
      { apiGroups = [""], resources = ["pods"], verbs = ["create", "delete", "get", "list", "watch"] },
      { apiGroups = [""], resources = ["pods/log"], verbs = ["get"] },
      { apiGroups = [""], resources = ["events"], verbs = ["get", "list", "watch"] },
    ]
  }
  orchestrator_binding = {
    apiVersion = "rbac.authorization.k8s.io/v1"
    kind       = "RoleBinding"
    metadata   = { name = "robotics-orchestrator-pods", namespace = var.training_namespace }
    roleRef    = { apiGroup = "rbac.authorization.k8s.io", kind = "Role", name = "robotics-orchestrator-pods" }
    # Entra ID integration: the orchestrator's managed identity arrives as a user named by its object ID.
    subjects = [{ apiGroup = "rbac.authorization.k8s.io", kind = "User", name = var.orchestrator.principal_id }]
  }

  # Egress allow-list for every pod in a workload namespace: cluster DNS; 443 to the private endpoints; 443 to
  # public addresses only (Entra ID, and storage/Azure ML where they have no private endpoint), never to private
  # ranges (nodes, PostgreSQL, Redis, other pods), the link-local IMDS (the node's identity) or 168.63.129.16.
  # Image pulls are the kubelet's, not the pod's: the registry needs no rule. No ingress at all.
  dns_rule = {
    to = [{
      namespaceSelector = { matchLabels = { "kubernetes.io/metadata.name" = "kube-system" } }
      podSelector       = { matchLabels = { "k8s-app" = "kube-dns" } }
    }]
    ports = [{ protocol = "UDP", port = 53 }, { protocol = "TCP", port = 53 }]
  }
  private_endpoint_rule = {
    to    = [for cidr in var.private_endpoint_cidrs : { ipBlock = { cidr = cidr } }]
    ports = [{ protocol = "TCP", port = 443 }]
  }
  public_https_rule = {
    to = [{
      ipBlock = {
        cidr   = "0.0.0.0/0"
        except = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16", "168.63.129.16/32"]
      }
    }]
    ports = [{ protocol = "TCP", port = 443 }]
  }
  network_policies = [
    for ns in local.workload_namespaces : {
      apiVersion = "networking.k8s.io/v1"
      kind       = "NetworkPolicy"
      metadata   = { name = "trainer-egress", namespace = ns }
      spec = {
        podSelector = {}
        policyTypes = ["Ingress", "Egress"]
        egress = concat(
          [local.dns_rule],
          length(var.private_endpoint_cidrs) > 0 ? [local.private_endpoint_rule] : [],
          var.allow_public_https ? [local.public_https_rule] : [],
        )
      }
    }
  ]

  # Managed Prometheus (ama-metrics) reads extra scrape jobs from this ConfigMap: the GPU operator's DCGM exporter
  # (GPU utilisation, memory, temperature, XID errors) on every GPU node.
  gpu_metrics_scrape = {
    apiVersion = "v1"
    kind       = "ConfigMap"
    metadata   = { name = "ama-metrics-prometheus-config", namespace = "kube-system" }
    data = {
      prometheus-config = yamlencode({
        scrape_configs = [{
          job_name              = "dcgm-exporter"
          scrape_interval       = "30s"
          kubernetes_sd_configs = [{ role = "pod" }]
          relabel_configs = [
            { source_labels = ["__meta_kubernetes_pod_label_app"], action = "keep", regex = "nvidia-dcgm-exporter" },
            { source_labels = ["__meta_kubernetes_pod_container_port_number"], action = "keep", regex = "9400" },
            { source_labels = ["__meta_kubernetes_pod_node_name"], target_label = "node" },
          ]
        }]
      })
    }
  }

  manifests = concat(
    local.namespaces, local.service_accounts, [local.orchestrator_role, local.orchestrator_binding], local.network_policies,
    var.gpu_metrics_scrape ? [local.gpu_metrics_scrape] : [],
  )
}
