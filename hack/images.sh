#!/usr/bin/env bash
# Build the project's images locally (no registry is reachable) and load them into the cluster.
#   images.sh pause   the sandbox (pause) image, from Debian's static catatonit
#   images.sh all     base image, model server and operator images; prints their names
#   images.sh names   the names `all` builds for this tree, without building (the e2e tests use it)
# With Docker available and a kind cluster running, builds with docker and `kind load`s instead.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
BASE_SUITE=bookworm
BASE_IMAGE=localhost/mlrollout-base:$BASE_SUITE-py3-v2
PAUSE_IMAGE=localhost/mlrollout-pause:catatonit
# name:dockerfile of every image the project builds.
IMAGES=(mlrollout-model-server:serving/Dockerfile mlrollout-operator:operator/Dockerfile
  mlrollout-mlflow:tracking/Dockerfile)
podman_() { podman --cgroup-manager=cgroupfs --events-backend=file "$@"; }

# The tag is the last commit that changed what goes into the images (plus a hash of uncommitted
# changes there), so unrelated commits reuse the images already built. README.md is copied only
# for the package metadata and is left out on purpose.
# tag [EXTRA_INPUT...]: the common inputs plus an image's own (its Dockerfile's folder).
IMAGE_INPUTS=(serving operator mlrollout pyproject.toml)
tag() {
  local sha inputs=("${IMAGE_INPUTS[@]}" "$@")
  sha=$(git -C "$repo_root" log -1 --format=%h --abbrev=12 -- "${inputs[@]}" 2>/dev/null || true)
  [[ -n $sha ]] || sha=nogit
  if [[ -n $(git -C "$repo_root" status --porcelain -- "${inputs[@]}" 2>/dev/null) ]]; then
    sha+="-dirty$( (git -C "$repo_root" diff HEAD -- "${inputs[@]}"
      git -C "$repo_root" ls-files -o --exclude-standard -- "${inputs[@]}" |
        (cd "$repo_root" && xargs -r cat)) | sha1sum | cut -c1-8)"
  fi
  echo "$sha"
}

load_into_cluster() {
  local image=$1 archive
  archive=$(mktemp --suffix .tar)
  podman_ save --quiet --format oci-archive -o "$archive" "$image" >/dev/null
  ctr --address "$CONTAINERD_SOCK" -n k8s.io images import --all-platforms "$archive" >/dev/null
  rm -f "$archive"
  ctr --address "$CONTAINERD_SOCK" -n k8s.io images ls -q | grep -x "$image" >/dev/null ||
    die "$image is not in the cluster's containerd after the import"
  log "loaded $image into the cluster"
}

pause_image() {
  if ctr --address "$CONTAINERD_SOCK" -n k8s.io images ls -q 2>/dev/null | grep -x "$PAUSE_IMAGE" >/dev/null; then
    return
  fi
  if ! podman_ image exists "$PAUSE_IMAGE"; then
    local root
    root=$(mktemp -d)
    cp /usr/bin/catatonit "$root/catatonit"
    tar -C "$root" -cf "$root.tar" .
    podman_ import --change 'ENTRYPOINT ["/catatonit", "-P"]' "$root.tar" "$PAUSE_IMAGE" >/dev/null
    rm -rf "$root" "$root.tar"
  fi
  load_into_cluster "$PAUSE_IMAGE"
}

base_image() {
  podman_ image exists "$BASE_IMAGE" && return
  log "building $BASE_IMAGE from Debian $BASE_SUITE packages (mmdebstrap)"
  local tarball
  tarball=$(mktemp --suffix .tar)
  # libgomp1: XGBoost's OpenMP runtime. passwd: useradd in the Dockerfiles.
  mmdebstrap --quiet --variant=minbase \
    --include=python3,python3-venv,ca-certificates,libgomp1,passwd \
    "$BASE_SUITE" "$tarball"
  podman_ import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' "$tarball" "$BASE_IMAGE" >/dev/null
  rm -f "$tarball"
}

build() {
  local name=$1 dockerfile=$2 image
  image=localhost/$name:$(tag "$(dirname "$dockerfile")")
  if ! podman_ image exists "$image"; then
    log "building $image from $dockerfile"
    # The host's CA bundle goes in read-only, for networks that inspect TLS.
    podman_ build --quiet --network=host --build-arg "BASE_IMAGE=$BASE_IMAGE" \
      --volume /etc/ssl/certs:/etc/ssl/host-certs:ro \
      --build-arg PIP_CERT=/etc/ssl/host-certs/ca-certificates.crt \
      -f "$repo_root/$dockerfile" -t "$image" "$repo_root" >/dev/null
  fi
  load_into_cluster "$image"
  echo "$image"
}

kind_images() {
  # Users with Docker: plain docker builds, loaded into the kind node(s).
  local image
  for spec in "${IMAGES[@]}"; do
    image=localhost/${spec%%:*}:$(tag "$(dirname "${spec#*:}")")
    docker build --build-arg BASE_IMAGE=python:3.11-slim-bookworm -f "$repo_root/${spec#*:}" \
      -t "$image" "$repo_root"
    kind load docker-image --name mlrollout "$image"
    echo "$image"
  done
}

if [[ ${MLROLLOUT_CLUSTER:-local} == kind && ${1:-all} != names ]]; then
  kind_images
  exit 0
fi

case ${1:-all} in
  pause) pause_image ;;
  all)
    pause_image
    base_image
    for spec in "${IMAGES[@]}"; do build "${spec%%:*}" "${spec#*:}"; done
    ;;
  names)
    for spec in "${IMAGES[@]}"; do echo "localhost/${spec%%:*}:$(tag "$(dirname "${spec#*:}")")"; done
    ;;
  *) die "usage: images.sh [pause|all|names]" ;;
esac
