#!/usr/bin/env bash
# What the serving benchmarks and the load test need, cached outside the repo by version:
# wrk (Debian; closed-loop load), vegeta (Go module; open-loop load at a fixed arrival rate) and a
# virtualenv with MLServer and its scikit-learn / XGBoost runtimes (the server we compare with);
# kwok (Go module; simulated nodes for the operator bench's rollouts at scale).
# Prints `NAME=PATH` lines for the callers. Skips whatever is already there.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
log() { printf '[bench-tools] %s\n' "$*" >&2; }
want=${1:-all}  # all | load (vegeta only) | kwok (kwok only)

go_tool() {  # NAME VERSION MODULE: build the command NAME once into the cache, print NAME=PATH
  local dir="$CACHE_ROOT/$1-$2" bin=$1
  if [[ ! -x "$dir/$bin" ]]; then
    log "building $1 $2 from the Go module proxy"
    mkdir -p "$dir"
    GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0 GOBIN="$dir" go install "$3"
  fi
  printf '%s=%s\n' "${1^^}" "$dir/$bin"
}

if [[ $want == kwok ]]; then
  go_tool kwok "$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  # kwok's own "fast" stages (nodes Ready with a lease; pods Ready at once, deleted at once),
  # from the same module, as one config file.
  stages="$CACHE_ROOT/kwok-$KWOK_VERSION/stages.yaml"
  if [[ ! -s $stages ]]; then
    src=$(GOTOOLCHAIN=local GOFLAGS=-mod=mod go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" |
      jq -r .Dir)/kustomize/stage
    for f in "$src"/node/fast/*.yaml "$src"/node/heartbeat-with-lease/*.yaml "$src"/pod/fast/*.yaml; do
      [[ $(basename "$f") == kustomization.yaml ]] || { cat "$f"; echo "---"; }
    done > "$stages.tmp" && mv "$stages.tmp" "$stages"
  fi
  echo "KWOK_STAGES=$stages"
  exit 0
fi

if ! command -v wrk >/dev/null; then  # `load` too: make load and the smoke runs warm up with wrk
  log "installing wrk (Debian package)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends wrk >/dev/null
fi

go_tool vegeta "$VEGETA_VERSION" "github.com/tsenart/vegeta/v12@$VEGETA_VERSION"

if [[ $want == all ]]; then
  python=${PYTHON:-python3}
  py=$("$python" -c 'import sys; print(f"py{sys.version_info[0]}{sys.version_info[1]}")')
  # The model's own libraries at the versions that trained it, so MLServer loads the same bytes.
  pins=$("${BENCH_PYTHON:-$python}" -c '
import sklearn, xgboost, mlflow
print(f"scikit-learn=={sklearn.__version__} xgboost=={xgboost.__version__} mlflow=={mlflow.__version__}")')
  # uvloop >= 0.22 raises in asyncio.get_event_loop() without a running loop, and MLServer's
  # parallel inference workers call exactly that at start: they die and the model never loads.
  pins+=" uvloop==0.21.0"
  key=$(printf '%s' "$pins" | sha256sum | cut -c1-8)
  venv="$CACHE_ROOT/mlserver-$MLSERVER_VERSION-$py-$key"
  if [[ ! -x "$venv/.installed" ]]; then
    log "installing MLServer $MLSERVER_VERSION into $venv ($pins)"
    rm -rf "$venv" && "$python" -m venv "$venv"
    # shellcheck disable=SC2086
    "$venv/bin/pip" install --quiet "mlserver==$MLSERVER_VERSION" \
      "mlserver-sklearn==$MLSERVER_VERSION" "mlserver-xgboost==$MLSERVER_VERSION" $pins skops
    printf '#!/bin/sh\n' > "$venv/.installed" && chmod +x "$venv/.installed"
  fi
  echo "MLSERVER=$venv/bin/mlserver"
fi
