#!/usr/bin/env bash
# Build the Kubernetes binaries (and helm, CoreDNS, metrics-server) from their Go modules into a
# version-keyed cache outside the repo; skip whatever is already there.
#
# k8s.io/kubernetes cannot be `go install`ed (its go.mod replaces ~31 staging modules with local
# paths), so a throw-away consumer module pins each staging module to the matching v0.x.y release,
# the way calico and k0s consume it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0
out="$CACHE_ROOT/k8s-$K8S_VERSION/bin"
mkdir -p "$out"
log() { printf '[build-binaries] %s\n' "$*" >&2; }

# Arguments add more of them (the kind provider asks for kubeadm).
k8s_bins=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl "$@")
missing=()
for b in "${k8s_bins[@]}"; do [[ -x "$out/$b" ]] || missing+=("$b"); done

if ((${#missing[@]})); then
  minor=${K8S_VERSION#v1.}; staging="v0.${minor}"
  work=$(mktemp -d "$CACHE_ROOT/build-XXXXXX")
  trap 'rm -rf "$work"' EXIT
  log "building ${missing[*]} $K8S_VERSION in $work (a cold build takes a while on 2 cores)"
  cd "$work"
  go mod init mlrollout.local/k8s-build >/dev/null 2>&1
  go mod download -json "k8s.io/kubernetes@$K8S_VERSION" > dl.json
  gomod=$(python3 -c 'import json,sys; print(json.load(open("dl.json"))["GoMod"])')
  # Every `k8s.io/X => ./staging/src/k8s.io/X` becomes `k8s.io/X => k8s.io/X v0.<minor>`.
  sed -n 's#^[[:space:]]*\(k8s.io/[^ ]*\) => ./staging/src/.*#\1#p' "$gomod" | sort -u > staging.txt
  {
    echo "replace ("
    while read -r m; do echo "  $m => $m $staging"; done < staging.txt
    echo ")"
  } >> go.mod
  log "pinned $(wc -l < staging.txt) staging modules to $staging"
  go get "k8s.io/kubernetes@$K8S_VERSION" >/dev/null
  pkgs=()
  for b in "${missing[@]}"; do
    case $b in
      kubectl) pkgs+=(k8s.io/kubernetes/cmd/kubectl) ;;
      *) pkgs+=("k8s.io/kubernetes/cmd/$b") ;;
    esac
  done
  log "resolving dependencies of ${#pkgs[@]} commands"
  go get "${pkgs[@]/%/@$K8S_VERSION}" 2>&1 | tail -3 >&2
  ver=$K8S_VERSION; major=1; minor_num=${minor%%.*}
  date_now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  ld=""
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=$ver -X $p.gitMajor=$major -X $p.gitMinor=$minor_num"
    ld+=" -X $p.gitCommit=0000000000000000000000000000000000000000 -X $p.gitTreeState=clean"
    ld+=" -X $p.buildDate=$date_now"
  done
  for pkg in "${pkgs[@]}"; do
    name=${pkg##*/}
    log "go build $name"
    start=$(date +%s)
    go build -trimpath -tags=selinux,notest -ldflags "-s -w $ld" -o "$out/$name.tmp" "$pkg"
    mv "$out/$name.tmp" "$out/$name"
    log "$name built in $(( $(date +%s) - start ))s"
  done
fi

if [[ ! -x "$out/helm" ]]; then
  log "building helm $HELM_VERSION"
  GOBIN="$out" go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
fi
if [[ ! -x "$out/coredns" ]]; then
  log "building coredns $COREDNS_VERSION (cluster DNS)"
  GOBIN="$out" go install "github.com/coredns/coredns@$COREDNS_VERSION"
fi
if [[ ! -x "$out/metrics-server" ]]; then
  # Its go.mod has replace directives too, so it is built inside a consumer module.
  log "building metrics-server $METRICS_SERVER_VERSION (CPU metrics for HPAs)"
  ms_work=$(mktemp -d "$CACHE_ROOT/build-ms-XXXXXX")
  (
    cd "$ms_work"
    go mod init mlrollout.local/metrics-server-build >/dev/null 2>&1
    go get -tool "sigs.k8s.io/metrics-server/cmd/metrics-server@$METRICS_SERVER_VERSION" 2>&1 | tail -3 >&2
    go build -trimpath -ldflags "-s -w" -o "$out/metrics-server.tmp" sigs.k8s.io/metrics-server/cmd/metrics-server
  )
  mv "$out/metrics-server.tmp" "$out/metrics-server"
  rm -rf "$ms_work"
fi
log "binaries ready in $out"
