#!/bin/sh
# An OCI runtime in front of runc that drops CAP_SYS_RESOURCE from what a container asks for.
# VMs whose capability bounding set lacks it (these Firecracker VMs) refuse every privileged
# container otherwise ("unable to apply caps: operation not permitted"), and kind runs each node
# as one. Registered as dockerd's default runtime on the host and as containerd's runc binary
# inside the node image, where kube-proxy and the CNI pods are privileged too.
# On a machine whose bounding set has the capability, this changes nothing that matters.
set -eu
RUNC=${MLROLLOUT_RUNC:-/usr/sbin/runc}
CAP=CAP_SYS_RESOURCE
strip() { # strip FILE JQ_PATH: remove $CAP from every capability list under the path
  [ -f "$1" ] || return 0
  tmp="$1.mlrollout.$$"
  jq --arg cap "$CAP" "if $2 then $2 |= with_entries(.value |= map(select(. != \$cap))) else . end" \
    "$1" >"$tmp" && mv "$tmp" "$1"
}
cmd="" bundle="." process="" prev=""
for arg in "$@"; do
  case $prev in
    --bundle | -b) bundle=$arg ;;
    --process | -p) process=$arg ;;
  esac
  case $arg in
    --bundle=*) bundle=${arg#--bundle=} ;;
    --process=*) process=${arg#--process=} ;;
    create | run | exec) [ -z "$cmd" ] && cmd=$arg ;;
  esac
  prev=$arg
done
case $cmd in
  create | run) strip "$bundle/config.json" .process.capabilities ;;
  exec) [ -n "$process" ] && strip "$process" .capabilities ;;
esac
exec "$RUNC" "$@"
