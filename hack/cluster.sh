#!/usr/bin/env bash
# One entry point for every cluster provider:
#   cluster.sh up|down|restart NAME|kubeconfig|host-ip|logs
# MLROLLOUT_CLUSTER picks the provider: kind (the default) or local (processes on this machine).
# host-ip: the address at which pods reach processes on this machine (the e2e tier's MLflow).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
provider=$PROVIDER
[[ -d $hack_dir/provider-$provider ]] || die "unknown cluster provider '$provider' (local, kind)"
case ${1:-} in
  up) exec "$hack_dir/provider-$provider/up.sh" ;;
  down) exec "$hack_dir/provider-$provider/down.sh" ;;
  restart)
    [[ -x $hack_dir/provider-$provider/restart.sh ]] || die "restart is not supported on $provider"
    exec "$hack_dir/provider-$provider/restart.sh" "${2:-}"
    ;;
  kubeconfig)
    if [[ $provider == local ]]; then echo "$KUBECONFIG_PATH"; else echo "$KIND_KUBECONFIG"; fi
    ;;
  host-ip)
    if [[ $provider == local ]]; then
      echo "$NODE_IP"
    else
      source "$hack_dir/provider-kind/docker-engine.sh"
      use_own_engine_if_running
      # The kind network's IPv4 gateway: this machine, as the nodes (and pods, masqueraded) see it.
      docker network inspect kind --format '{{range .IPAM.Config}}{{.Gateway}} {{end}}' |
        tr ' ' '\n' | grep -m1 '^[0-9.]\+$' || die "no kind network: run make cluster-up CLUSTER=kind"
    fi
    ;;
  logs)
    if [[ $provider == local ]]; then
      for f in "$LOGS"/*.log; do [[ -e $f ]] && echo "$f"; done
    else
      echo "kind export logs --name $KIND_CLUSTER (with DOCKER_HOST=unix:///run/mlrollout-docker/docker.sock when the project started its own engine)"
    fi
    ;;
  *) die "usage: cluster.sh up|down|restart NAME|kubeconfig|host-ip|logs" ;;
esac
