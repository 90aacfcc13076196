#!/usr/bin/env bash
# The kind provider, offline: kind built from its Go module, a Docker engine (the user's, or the
# project's own on its own socket), mlrollout's own node image (node-image.sh) unless
# KIND_NODE_IMAGE names another, and a cluster from kind-config.yaml (one control plane, one
# worker) with metrics-server. Idempotent: an existing cluster is kept.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
source "$hack_dir/provider-kind/docker-engine.sh"
started=$SECONDS

"$hack_dir/provider-kind/build-tools.sh"
ensure_docker
if [[ -n ${KIND_NODE_IMAGE:-} ]]; then
  image=$KIND_NODE_IMAGE
  log "node image $image (KIND_NODE_IMAGE)"
else
  image=$("$hack_dir/provider-kind/node-image.sh")
  log "node image $image"
fi

mkdir -p "$(dirname "$KIND_KUBECONFIG")"
kube() { "$K8S_BIN/kubectl" --kubeconfig "$KIND_KUBECONFIG" --context "kind-$KIND_CLUSTER" "$@"; }
if kind get clusters 2>/dev/null | grep -qx "$KIND_CLUSTER"; then
  kind export kubeconfig --name "$KIND_CLUSTER" --kubeconfig "$KIND_KUBECONFIG" >/dev/null 2>&1 || true
  if kube get --raw /readyz --request-timeout=10s >/dev/null 2>&1; then
    log "kind cluster $KIND_CLUSTER exists; keeping it (make cluster-down CLUSTER=kind removes it)"
  else
    # Nodes left from a machine or engine that stopped: they do not come back whole.
    log "kind cluster $KIND_CLUSTER exists but its API server does not answer: recreating it"
    kind delete cluster --name "$KIND_CLUSTER" --kubeconfig "$KIND_KUBECONFIG"
  fi
fi
if ! kind get clusters 2>/dev/null | grep -qx "$KIND_CLUSTER"; then
  log "creating kind cluster $KIND_CLUSTER from kind-config.yaml"
  create_started=$SECONDS
  kind create cluster --name "$KIND_CLUSTER" --config "$repo_root/kind-config.yaml" \
    --image "$image" --kubeconfig "$KIND_KUBECONFIG" --wait 180s
  log "kind create cluster took $((SECONDS - create_started))s"
fi
wait_for "all nodes Ready" 180 "" kube wait --for=condition=Ready nodes --all --timeout=5s
wait_for "cluster DNS" 120 "" kube -n kube-system rollout status deploy/coredns --timeout=5s

# metrics-server (its image is preloaded in the node image; an upstream node image pulls it).
ms_image=localhost/mlrollout-metrics-server:$METRICS_SERVER_VERSION
[[ -n ${KIND_NODE_IMAGE:-} ]] && ms_image=registry.k8s.io/metrics-server/metrics-server:$METRICS_SERVER_VERSION
sed "s|METRICS_SERVER_IMAGE|$ms_image|" "$hack_dir/provider-kind/metrics-server.yaml" | kube apply -f - >/dev/null
wait_for "metrics API available" 120 "" \
  kube wait --for=condition=Available apiservice/v1beta1.metrics.k8s.io --timeout=5s

mkdir -p "$repo_root/bin"
ln -sf "$K8S_BIN/kubectl" "$repo_root/bin/kubectl"
ln -sf "$K8S_BIN/helm" "$repo_root/bin/helm"
ln -sf "$KIND_BIN/kind" "$repo_root/bin/kind"
log "kind cluster up in $((SECONDS - started))s; export KUBECONFIG=$KIND_KUBECONFIG (context kind-$KIND_CLUSTER)"
