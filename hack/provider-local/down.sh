#!/usr/bin/env bash
# Stop what up.sh started (by pid file), unmount the kubelet's mounts, remove the network
# pieces and the cluster's state, so that `cluster-up` starts clean on the same machine.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

stop() {
  local name=$1 pidfile=$RUN/$1.pid
  [[ -f $pidfile ]] || return 0
  local pid
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
    log "stopped $name"
  fi
  rm -f "$pidfile"
}

# Pods first (their shims are children of containerd, not of the kubelet).
if [[ -S $CONTAINERD_SOCK ]]; then
  for task in $(ctr --address "$CONTAINERD_SOCK" -n k8s.io tasks ls -q 2>/dev/null); do
    ctr --address "$CONTAINERD_SOCK" -n k8s.io tasks kill -s KILL "$task" >/dev/null 2>&1 || true
  done
fi
for name in metrics-server coredns kube-proxy kubelet kube-scheduler kube-controller-manager kube-apiserver containerd etcd; do
  stop "$name"
done
pkill -f "containerd-shim-runc-v2 -namespace k8s.io -id .* -address $CONTAINERD_SOCK" 2>/dev/null || true

# Unmount everything below our state and run dirs (kubelet volumes, containerd snapshots, netns).
for dir in "$STATE" "$RUN"; do
  { grep -o " $dir[^ ]*" /proc/mounts || true; } | sort -r | while read -r mnt; do
    umount -l "$mnt" 2>/dev/null || true
  done
done

ip link show "$BRIDGE" >/dev/null 2>&1 && ip link delete "$BRIDGE" && log "removed bridge $BRIDGE"
# Pod veths die with their netns; the iptables chains kube-proxy and CNI created go here.
if command -v iptables >/dev/null; then
  for table in nat filter mangle; do
    rules=$(iptables -t "$table" -S 2>/dev/null || true)
    grep -E '^-A .*(KUBE-|CNI-)' <<<"$rules" | sed 's/^-A/-D/' |
      while read -r rule; do eval "iptables -t $table $rule" 2>/dev/null || true; done || true
    for chain in $(grep -E '^-N (KUBE-|CNI-)' <<<"$rules" | awk '{print $2}'); do
      iptables -t "$table" -F "$chain" 2>/dev/null || true
    done
    for chain in $(grep -E '^-N (KUBE-|CNI-)' <<<"$rules" | awk '{print $2}'); do
      iptables -t "$table" -X "$chain" 2>/dev/null || true
    done
  done
fi
rm -rf "$STATE" "$RUN"
rm -f "$repo_root/bin/kubectl" "$repo_root/bin/helm"
log "local cluster removed"
