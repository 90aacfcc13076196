#!/usr/bin/env bash
# What the kind provider builds from Go modules, into version-keyed caches outside the repo
# (skipped when present): kind, kubeadm (beside the other Kubernetes binaries) and etcd.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0

"$hack_dir/build-binaries.sh" kubeadm

if [[ ! -x $KIND_BIN/kind ]]; then
  log "building kind $KIND_VERSION"
  mkdir -p "$KIND_BIN"
  GOBIN=$KIND_BIN go install "sigs.k8s.io/kind@$KIND_VERSION"
fi

if [[ ! -x $ETCD_BIN/etcd ]]; then
  # etcd's server module replaces its sibling modules with local paths: build it inside a
  # consumer module, as build-binaries.sh does for Kubernetes.
  log "building etcd $ETCD_VERSION (the node image's etcd)"
  work=$(mktemp -d "$CACHE_ROOT/build-etcd-XXXXXX")
  (
    cd "$work"
    go mod init mlrollout.local/etcd-build >/dev/null 2>&1
    go get -tool "go.etcd.io/etcd/server/v3@$ETCD_VERSION" 2>&1 | tail -1 >&2
    mkdir -p "$ETCD_BIN"
    go build -trimpath -ldflags "-s -w" -o "$ETCD_BIN/etcd.tmp" go.etcd.io/etcd/server/v3
  )
  mv "$ETCD_BIN/etcd.tmp" "$ETCD_BIN/etcd"
  rm -rf "$work"
fi
log "kind tools ready: $KIND_BIN/kind, $K8S_BIN/kubeadm, $ETCD_BIN/etcd"
