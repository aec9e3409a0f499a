#!/usr/bin/env bash
# After `terraform apply`, per region: apply the cluster objects Terraform rendered (output cluster_manifests:
# service accounts with their identities, the orchestrator's pods-only Role, the trainers' egress NetworkPolicy, the
# DCGM scrape config) and install the NVIDIA GPU operator, without which no pod can request nvidia.com/gpu.
#
#   infra_tf/scripts/post_apply.sh [REGION ...]      # default: every region of `terraform output regions`
#
# Needs az (logged in as a member of admin_group_object_ids), kubelogin, kubectl, helm, jq, terraform. Idempotent:
# re-run it after every apply that changes cluster_manifests, and to upgrade the operator (GPU_OPERATOR_VERSION).
# A kubernetes/helm Terraform provider cannot do this: providers cannot be configured per instance of the root's
# for_each over regions.
set -euo pipefail

GPU_OPERATOR_VERSION="${GPU_OPERATOR_VERSION:-v25.10.1}"
GPU_OPERATOR_REPO="${GPU_OPERATOR_REPO:-https://helm.ngc.nvidia.com/nvidia}"
TF_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VALUES="$TF_DIR/cluster/gpu-operator.values.yaml"

for tool in az kubelogin kubectl helm jq terraform; do
  command -v "$tool" >/dev/null || { echo "post_apply.sh: $tool not found on PATH (see docs/infra.md, deployment order)" >&2; exit 2; }
done

regions_json="$(terraform -chdir="$TF_DIR" output -json regions)"
manifests_json="$(terraform -chdir="$TF_DIR" output -json cluster_manifests)"
if [[ $# -gt 0 ]]; then selected=("$@"); else mapfile -t selected < <(jq -r 'keys[]' <<<"$regions_json"); fi

workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT

for region in "${selected[@]}"; do
  if ! jq -e --arg r "$region" 'has($r)' <<<"$regions_json" >/dev/null; then
    echo "post_apply.sh: region $region is not in terraform output regions ($(jq -r 'keys|join(", ")' <<<"$regions_json"))" >&2
    exit 2
  fi
  resource_group="$(jq -r --arg r "$region" '.[$r].resource_group' <<<"$regions_json")"
  cluster="$(jq -r --arg r "$region" '.[$r].aks.cluster_name' <<<"$regions_json")"
  kubeconfig="$workdir/$region.kubeconfig"
  echo "== $region: $cluster ($resource_group)"

  # Local accounts are disabled: an Entra kubeconfig, converted to use the az login (kubelogin).
  az aks get-credentials --resource-group "$resource_group" --name "$cluster" --file "$kubeconfig" --overwrite-existing
  kubelogin convert-kubeconfig --login azurecli --kubeconfig "$kubeconfig"

  jq -r --arg r "$region" '.[$r]' <<<"$manifests_json" >"$workdir/$region.yaml"
  kubectl --kubeconfig "$kubeconfig" apply --server-side --field-manager=robotics-infra -f "$workdir/$region.yaml"

  if jq -e --arg r "$region" '.[$r].gpu_node_pools | length > 0' <<<"$regions_json" >/dev/null; then
    helm upgrade --install gpu-operator gpu-operator --repo "$GPU_OPERATOR_REPO" --version "$GPU_OPERATOR_VERSION" \
      --namespace gpu-operator --create-namespace --kubeconfig "$kubeconfig" -f "$VALUES" --wait --timeout 15m
  else
    echo "   no GPU node pool: GPU operator skipped"
  fi
done
