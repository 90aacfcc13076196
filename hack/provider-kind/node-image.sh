#!/usr/bin/env bash
# Build mlrollout's kind node image offline, from the project's own files: a Debian rootfs
# (systemd, containerd, runc, CNI plugins, iptables…), the Kubernetes binaries of versions.env
# with kubeadm, and every image kubeadm and the cluster start, preloaded into the node's
# containerd under the names kubeadm looks up. Prints the image name. Its tag hashes every input,
# so an unchanged tree reuses the image (no work at all), and a changed input builds a new one.
# Needs `docker` to answer (up.sh sees to it).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
node_dir=$hack_dir/provider-kind/node
SUITE=bookworm
NODE_PACKAGES=systemd,systemd-sysv,containerd,runc,containernetworking-plugins,iptables,conntrack,iproute2,ethtool,util-linux,mount,kmod,libseccomp2,ca-certificates,curl,jq,procps,socat
TOOLS_PACKAGES=iptables,conntrack,iproute2,curl,jq,ca-certificates
KUBEADM_IMAGES=$("$K8S_BIN/kubeadm" config images list --kubernetes-version "$K8S_VERSION" 2>/dev/null)
image_for() { grep -m1 "/$1:" <<<"$KUBEADM_IMAGES"; }

inputs_hash() {
  {
    cat "$hack_dir/versions.env" "$0" "$hack_dir/provider-kind/runtime-wrapper.sh"
    find "$node_dir" -type f | sort | xargs cat
    echo "$NODE_PACKAGES $TOOLS_PACKAGES"
  } | sha256sum | cut -c1-12
}
TAG=$K8S_VERSION-$(inputs_hash)
NODE_IMAGE=localhost/mlrollout-kind-node:$TAG
TOOLS_IMAGE=localhost/mlrollout-kind-node-tools:$(echo "$SUITE $TOOLS_PACKAGES" | sha256sum | cut -c1-12)
METRICS_SERVER_IMAGE=localhost/mlrollout-metrics-server:$METRICS_SERVER_VERSION

if docker image inspect "$NODE_IMAGE" >/dev/null 2>&1; then
  echo "$NODE_IMAGE"
  exit 0
fi
started=$SECONDS
work=$(mktemp -d "${TMPDIR:-/tmp}/mlrollout-node-XXXXXX")
builder=""
cleanup() {
  [[ -n $builder ]] && docker rm -f "$builder" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

rootfs_image() { # rootfs_image NAME PACKAGES: a Debian rootfs imported as an image, if absent
  docker image inspect "$1" >/dev/null 2>&1 && return
  log "node image: Debian $SUITE rootfs $1 (mmdebstrap)"
  mmdebstrap --quiet --variant=minbase --include="$2" "$SUITE" "$work/rootfs.tar"
  docker import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "$work/rootfs.tar" "$1" >/dev/null
  rm -f "$work/rootfs.tar"
}

quiet_build() { # docker build; its output only when it fails (the client nags about buildx)
  docker build "$@" >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; return 1; }
}

binary_image() { # binary_image NAME FROM BINARY DEST [ENTRYPOINT]: one static binary on a base
  local ctx=$work/ctx-${1//[^a-z0-9]/-}
  mkdir -p "$ctx"
  cp "$3" "$ctx/bin"
  {
    echo "FROM $2"
    echo "COPY bin $4"
    echo "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    [[ -n ${5:-} ]] && echo "ENTRYPOINT $5"
  } >"$ctx/Dockerfile"
  quiet_build -t "$1" "$ctx"
}

log "node image $NODE_IMAGE: building (a cold build takes a few minutes)"
ROOTFS_IMAGE=localhost/mlrollout-kind-rootfs:$(echo "$SUITE $NODE_PACKAGES" | sha256sum | cut -c1-12)
rootfs_image "$ROOTFS_IMAGE" "$NODE_PACKAGES"
rootfs_image "$TOOLS_IMAGE" "$TOOLS_PACKAGES"

log "node image: cluster images from the binaries built here"
for component in kube-apiserver kube-controller-manager kube-scheduler; do
  binary_image "$(image_for "$component")" scratch "$K8S_BIN/$component" "/usr/local/bin/$component"
done
binary_image "$(image_for kube-proxy)" "$TOOLS_IMAGE" "$K8S_BIN/kube-proxy" /usr/local/bin/kube-proxy
binary_image "$(image_for etcd)" scratch "$ETCD_BIN/etcd" /usr/local/bin/etcd
# kubeadm's CoreDNS tag, carrying the CoreDNS that versions.env names (a patch release apart).
binary_image "$(image_for coredns)" scratch "$K8S_BIN/coredns" /coredns '["/coredns"]'
binary_image "$(image_for pause)" scratch /usr/bin/catatonit /catatonit '["/catatonit", "-P"]'
binary_image "$METRICS_SERVER_IMAGE" scratch "$K8S_BIN/metrics-server" /metrics-server '["/metrics-server"]'
preload=($KUBEADM_IMAGES "$TOOLS_IMAGE" "$METRICS_SERVER_IMAGE")
docker save -o "$work/preload.tar" "${preload[@]}"

log "node image: node filesystem"
ctx=$work/node
mkdir -p "$ctx/files/kind/manifests" "$ctx/files/usr/bin" "$ctx/files/usr/local/bin" \
  "$ctx/files/usr/local/sbin" "$ctx/files/etc/containerd" "$ctx/files/etc/default" \
  "$ctx/files/etc/sysctl.d" "$ctx/files/etc/systemd/system"
for b in kubeadm kubelet kubectl; do cp "$K8S_BIN/$b" "$ctx/files/usr/bin/$b"; done
install -m 0755 "$node_dir/entrypoint" "$ctx/files/usr/local/bin/entrypoint"
install -m 0755 "$hack_dir/provider-kind/runtime-wrapper.sh" "$ctx/files/usr/local/sbin/runc-wrapper"
cp "$node_dir/containerd.toml" "$ctx/files/etc/containerd/config.toml"
cp "$node_dir/default-kubelet" "$ctx/files/etc/default/kubelet"
cp "$node_dir/sysctl.conf" "$ctx/files/etc/sysctl.d/10-mlrollout-node.conf"
cp -r "$node_dir/systemd/." "$ctx/files/etc/systemd/system/"
sed "s|localhost/mlrollout-kind-node-tools:v1|$TOOLS_IMAGE|" "$node_dir/default-cni.yaml" \
  >"$ctx/files/kind/manifests/default-cni.yaml"
echo -n "$K8S_VERSION" >"$ctx/files/kind/version"
cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $ROOTFS_IMAGE
COPY files/ /
# Only what a node needs starts at boot (as kind's base image does).
RUN find /lib/systemd/system/sysinit.target.wants/ -name systemd-tmpfiles-setup.service -delete \\
 && rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* \\
    /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* \\
    /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/* \\
 && echo ReadKMsg=no >>/etc/systemd/journald.conf \\
 && systemctl enable kubelet.service containerd.service \\
 && systemctl mask systemd-binfmt.service getty@tty1.service \\
 && mkdir -p /etc/kubernetes/manifests /opt/cni/bin
DOCKERFILE
quiet_build -t "$NODE_IMAGE-unloaded" "$ctx"

log "node image: preloading ${#preload[@]} images into the node's containerd"
builder=mlrollout-node-build-$$
docker run -d --name "$builder" --privileged --entrypoint sleep "$NODE_IMAGE-unloaded" infinity >/dev/null
docker exec "$builder" bash -c 'nohup containerd >/tmp/containerd.log 2>&1 &
  for _ in $(seq 30); do ctr version >/dev/null 2>&1 && exit 0; sleep 1; done; cat /tmp/containerd.log; exit 1'
# (containerd 1.6 cannot pin images; kind's kubelet config keeps image GC off instead)
docker exec -i "$builder" ctr --namespace=k8s.io images import --no-unpack --all-platforms \
  - <"$work/preload.tar" >/dev/null
# (sleep, the builder's PID 1, reaps nothing: a stopped containerd stays a zombie, state Z)
docker exec "$builder" bash -c 'pkill containerd
  while ps -o stat= -C containerd | grep -qv Z; do sleep 0.2; done'
docker commit "$builder" "$NODE_IMAGE-loaded" >/dev/null
docker rm -f "$builder" >/dev/null
builder=""
# (docker commit cannot set STOPSIGNAL: one more build step sets what kind's node images set)
mkdir -p "$work/final"
cat >"$work/final/Dockerfile" <<DOCKERFILE
FROM $NODE_IMAGE-loaded
ENV container=docker
STOPSIGNAL SIGRTMIN+3
ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]
CMD []
DOCKERFILE
quiet_build -t "$NODE_IMAGE" "$work/final"
docker rmi "$NODE_IMAGE-unloaded" "$NODE_IMAGE-loaded" >/dev/null
# Older node images (other tags) go: each is ~1 GB and nothing uses them once this one exists.
for old in $(docker images --format '{{.Repository}}:{{.Tag}}' localhost/mlrollout-kind-node); do
  [[ $old == "$NODE_IMAGE" ]] || docker rmi "$old" >/dev/null 2>&1 || true
done
log "node image $NODE_IMAGE built in $((SECONDS - started))s"
echo "$NODE_IMAGE"
