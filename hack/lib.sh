# Shared by the hack/ scripts: paths, logging, and step-by-step readiness waits.
# shellcheck shell=bash
hack_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$hack_dir/.." && pwd)
# shellcheck source=versions.env
source "$hack_dir/versions.env"
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH"

K8S_BIN="$CACHE_ROOT/k8s-$K8S_VERSION/bin"
KIND_BIN="$CACHE_ROOT/kind-$KIND_VERSION/bin"
ETCD_BIN="$CACHE_ROOT/etcd-$ETCD_VERSION/bin"
STATE=/var/lib/mlrollout-cluster        # data of the running cluster (removed by cluster-down)
RUN=/run/mlrollout-cluster              # pid files and sockets
LOGS=$STATE/logs
PKI=$STATE/pki
KUBECONFIG_PATH=$STATE/kubeconfig
CONTEXT=mlrollout-local
NODE_NAME=mlrollout-node
BRIDGE=mlr0
NODE_IP=10.244.0.1
POD_CIDR=10.244.0.0/16
SERVICE_CIDR=10.96.0.0/16
API_SERVICE_IP=10.96.0.1
DNS_IP=10.96.0.10
API_PORT=6443
ETCD_CLIENT_PORT=23790
ETCD_PEER_PORT=23800
METRICS_SERVER_PORT=10350
CONTAINERD_SOCK=$RUN/containerd/containerd.sock
# Which cluster the scripts act on (make's CLUSTER sets it): kind, or local (processes here).
PROVIDER=${MLROLLOUT_CLUSTER:-kind}
# The kind provider: its cluster name (context kind-$KIND_CLUSTER) and kubeconfig of its own.
KIND_CLUSTER=mlrollout
KIND_KUBECONFIG=${MLROLLOUT_KIND_KUBECONFIG:-$HOME/.kube/mlrollout-kind.yaml}
export PATH="$KIND_BIN:$PATH"

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

die() {
  log "ERROR: $*"
  exit 1
}

# wait_for STEP TIMEOUT_S LOGFILE CMD...: retry CMD until it succeeds; on timeout name the step
# and show the last lines of the component's log.
wait_for() {
  local step=$1 timeout=$2 logfile=$3
  shift 3
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      log "step '$step' not ready after ${timeout}s"
      if [[ -n $logfile && -f $logfile ]]; then
        log "last lines of $logfile:"
        tail -n 25 "$logfile" >&2
      fi
      exit 1
    fi
    sleep 1
  done
  log "ready: $step"
}

# daemon_alive PID: the process runs (a killed daemon stays a zombie until PID 1 reaps it, and
# `kill -0` still succeeds on a zombie).
daemon_alive() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $state && $state != Z ]]
}

# start_daemon NAME CMD...: run in the background with a pid file and a log file.
start_daemon() {
  local name=$1
  shift
  mkdir -p "$RUN" "$LOGS"
  if [[ -f $RUN/$name.pid ]] && daemon_alive "$(cat "$RUN/$name.pid")"; then
    log "$name already running (pid $(cat "$RUN/$name.pid"))"
    return
  fi
  setsid "$@" >>"$LOGS/$name.log" 2>&1 < /dev/null &
  echo $! >"$RUN/$name.pid"
  log "started $name (pid $!, log $LOGS/$name.log)"
}

kubectl_() { "$K8S_BIN/kubectl" --kubeconfig "$KUBECONFIG_PATH" "$@"; }
