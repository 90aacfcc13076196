#!/usr/bin/env bash
# Build the project's images locally (no registry is reachable) and load them into the cluster.
#   images.sh pause   the sandbox (pause) image, from Debian's static catatonit
#   images.sh build   base image, model server, operator, MLflow and PostgreSQL images; prints their names
#   images.sh all     `build`, then loads the images into the cluster; prints their names
#   images.sh names   the names `all` builds for this tree, without building (the e2e tests use it)
# With Docker available and a kind cluster running, builds with docker and `kind load`s instead.
set -euo pipefail
shopt -s inherit_errexit # a failed tag inside $(...) stops the script
source "$(dirname "$0")/lib.sh"
BASE_SUITE=bookworm
PAUSE_IMAGE=localhost/mlrollout-pause:catatonit
# The targets of the root Dockerfile; target T is the image localhost/mlrollout-T.
TARGETS=(model-server operator mlflow postgresql)
if [[ ${MLROLLOUT_CLUSTER:-local} == kind ]]; then
  BASE_IMAGE=python:3.11-slim-bookworm
else
  BASE_IMAGE=localhost/mlrollout-base:$BASE_SUITE-py3-v2
fi
podman_() { podman --cgroup-manager=cgroupfs --events-backend=file "$@"; }

# The tag is a hash of what goes into the target (its Dockerfile stages, the files they copy,
# the base image): a clean tree always gets the same one, and a change elsewhere, another
# image's code included, reuses the image already built.
image_name() {
  local tag
  tag=$(python3 "$hack_dir/image-tag.py" --build-arg "BASE_IMAGE=$BASE_IMAGE" "$1")
  echo "localhost/mlrollout-$1:$tag"
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
  # libgomp1: XGBoost's OpenMP runtime. passwd: useradd in the Dockerfile.
  mmdebstrap --quiet --variant=minbase \
    --include=python3,python3-venv,ca-certificates,libgomp1,passwd \
    "$BASE_SUITE" "$tarball"
  podman_ import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' "$tarball" "$BASE_IMAGE" >/dev/null
  rm -f "$tarball"
}

build() {
  local target=$1 image
  image=$(image_name "$target")
  if ! podman_ image exists "$image"; then
    log "building $image (Dockerfile target $target)"
    # The host's CA bundle goes in read-only, for networks that inspect TLS.
    podman_ build --quiet --network=host --build-arg "BASE_IMAGE=$BASE_IMAGE" \
      --volume /etc/ssl/certs:/etc/ssl/host-certs:ro \
      --build-arg PIP_CERT=/etc/ssl/host-certs/ca-certificates.crt \
      --target "$target" -f "$repo_root/Dockerfile" -t "$image" "$repo_root" >/dev/null
  fi
  echo "$image"
}

kind_images() {
  # Users with Docker: plain docker builds, loaded into the kind node(s).
  local target image
  for target in "${TARGETS[@]}"; do
    image=$(image_name "$target")
    docker build --build-arg "BASE_IMAGE=$BASE_IMAGE" --target "$target" \
      -f "$repo_root/Dockerfile" -t "$image" "$repo_root"
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
  build)
    base_image
    for target in "${TARGETS[@]}"; do build "$target"; done
    ;;
  all)
    pause_image
    base_image
    for target in "${TARGETS[@]}"; do
      image=$(build "$target")
      load_into_cluster "$image"
      echo "$image"
    done
    ;;
  names)
    for target in "${TARGETS[@]}"; do image_name "$target"; done
    ;;
  *) die "usage: images.sh [pause|build|all|names]" ;;
esac
