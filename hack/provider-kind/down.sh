#!/usr/bin/env bash
# Delete the kind cluster; stop the project's own Docker engine if this provider runs it (its
# images stay in its data root, so the next cluster-up reuses the node image). A project engine
# that stopped with its machine is started again first: its data root may still hold the nodes.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
source "$hack_dir/provider-kind/docker-engine.sh"
if own_engine_running || [[ -d $DOCKER_STATE/data ]] || docker info >/dev/null 2>&1; then
  ensure_docker
  if [[ -x $KIND_BIN/kind ]] && kind get clusters 2>/dev/null | grep -qx "$KIND_CLUSTER"; then
    kind delete cluster --name "$KIND_CLUSTER" --kubeconfig "$KIND_KUBECONFIG"
  fi
fi
rm -f "$KIND_KUBECONFIG"
stop_own_docker
log "kind cluster down"
