#!/usr/bin/env bash
# One entry point for every cluster provider: `cluster.sh up|down|restart NAME|kubeconfig|logs`.
# MLROLLOUT_CLUSTER picks the provider: local (processes on this machine, the default) or kind.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
provider=${MLROLLOUT_CLUSTER:-local}
[[ -d $hack_dir/provider-$provider ]] || die "unknown cluster provider '$provider' (local, kind)"
case ${1:-} in
  up) exec "$hack_dir/provider-$provider/up.sh" ;;
  down) exec "$hack_dir/provider-$provider/down.sh" ;;
  restart)
    [[ -x $hack_dir/provider-$provider/restart.sh ]] || die "restart is not supported on $provider"
    exec "$hack_dir/provider-$provider/restart.sh" "${2:-}"
    ;;
  kubeconfig)
    if [[ $provider == local ]]; then echo "$KUBECONFIG_PATH"; else echo "${KUBECONFIG:-$HOME/.kube/config}"; fi
    ;;
  logs)
    if [[ $provider == local ]]; then
      for f in "$LOGS"/*.log; do [[ -e $f ]] && echo "$f"; done
    else
      echo "kind export logs: run 'kind export logs --name mlrollout'"
    fi
    ;;
  *) die "usage: cluster.sh up|down|restart NAME|kubeconfig|logs" ;;
esac
