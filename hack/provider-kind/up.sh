#!/usr/bin/env bash
# The kind provider: the same e2e tier on a kind cluster (needs Docker and kind on PATH).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
command -v kind >/dev/null || die "kind is not on PATH: install it (https://kind.sigs.k8s.io) or use MLROLLOUT_CLUSTER=local"
command -v docker >/dev/null && docker info >/dev/null 2>&1 || die "kind needs a running Docker engine"
if ! kind get clusters | grep -x mlrollout >/dev/null; then
  kind create cluster --config "$repo_root/kind-config.yaml" --wait 180s
fi
kubectl --context kind-mlrollout wait --for=condition=Ready nodes --all --timeout=180s
log "kind cluster up; context kind-mlrollout"
