#!/usr/bin/env bash
# Build the project's images locally (no registry is reachable) and load them into the cluster.
#   images.sh pause   the sandbox (pause) image, from Debian's static catatonit
#   images.sh build   base image, model server, operator, MLflow and PostgreSQL images; prints their names
#   images.sh all     `build`, then loads the images into the cluster; prints their names
#   images.sh names   the names `all` builds for this tree, without building (the e2e tests use it)
# The same images on both providers (built with podman here); MLROLLOUT_CLUSTER=kind loads them
# into the kind nodes with `kind load image-archive`.
set -euo pipefail
shopt -s inherit_errexit # a failed tag inside $(...) stops the script
source "$(dirname "$0")/lib.sh"
BASE_SUITE=bookworm
PAUSE_IMAGE=localhost/mlrollout-pause:catatonit
# The targets of the root Dockerfile; target T is the image localhost/mlrollout-T.
TARGETS=(model-server operator mlflow postgresql)
BASE_IMAGE=localhost/mlrollout-base:$BASE_SUITE-py3-v2
podman_() { podman --cgroup-manager=cgroupfs --events-backend=file "$@"; }
# Image archives on their way into the cluster (1–2 GB each): removed however the script ends.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# The tag is a hash of what goes into the target (its Dockerfile stages, the files they copy,
# the base image): a clean tree always gets the same one, and a change elsewhere, another
# image's code included, reuses the image already built.
image_name() {
  local tag
  tag=$(python3 "$hack_dir/image-tag.py" --build-arg "BASE_IMAGE=$BASE_IMAGE" "$1")
  echo "localhost/mlrollout-$1:$tag"
}

load_into_kind() {
  local image=$1 node missing=()
  for node in $(kind get nodes --name "$KIND_CLUSTER"); do
    docker exec "$node" ctr --namespace=k8s.io images ls -q | grep -qx "$image" || missing+=("$node")
  done
  if ((${#missing[@]} == 0)); then
    log "$image is already in the kind nodes"
    return
  fi
  podman_ save --quiet --format docker-archive -o "$scratch/image.tar" "$image" >/dev/null
  kind load image-archive --name "$KIND_CLUSTER" --nodes "$(IFS=,; echo "${missing[*]}")" \
    "$scratch/image.tar" >&2
  rm -f "$scratch/image.tar"
  log "loaded $image into ${missing[*]}"
}

load_into_cluster() {
  local image=$1 archive
  if [[ $PROVIDER == kind ]]; then
    load_into_kind "$image"
    return
  fi
  archive=$scratch/image.tar
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

# Every change of an image's inputs makes a new tag: without this a machine keeps every image
# it ever built (1.5 GB each) until its disk is full.
prune_older() {
  local target=$1 keep=$2 old
  for old in $(podman_ images --format '{{.Repository}}:{{.Tag}}' "localhost/mlrollout-$target"); do
    [[ $old == "$keep" ]] || podman_ rmi --force "$old" >/dev/null 2>&1 || true
  done
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
    prune_older "$target" "$image"
    podman_ image prune --force >/dev/null
  fi
  echo "$image"
}

if [[ $PROVIDER == kind ]]; then
  source "$hack_dir/provider-kind/docker-engine.sh"
  use_own_engine_if_running
fi

case ${1:-all} in
  pause) pause_image ;;
  build)
    base_image
    for target in "${TARGETS[@]}"; do build "$target"; done
    ;;
  all)
    [[ $PROVIDER == kind ]] || pause_image
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
