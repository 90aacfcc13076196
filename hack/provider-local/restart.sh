#!/usr/bin/env bash
# Crash one component of the local cluster (SIGKILL, as a node failure would) and bring it
# back with up.sh, which starts whatever is not running. The fault suite uses it.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
name=${1:?usage: restart.sh COMPONENT (kube-apiserver, containerd, kubelet, ...)}
pidfile=$RUN/$name.pid
[[ -f $pidfile ]] || die "$name is not running on the local cluster (no $pidfile)"
pid=$(cat "$pidfile")
kill -9 "$pid" 2>/dev/null || true
for _ in $(seq 1 100); do daemon_alive "$pid" || break; sleep 0.1; done
daemon_alive "$pid" && die "$name (pid $pid) survived SIGKILL"
log "killed $name (pid $pid); starting it again"
exec "$hack_dir/provider-local/up.sh"
