#!/usr/bin/env bash
# What the serving benchmarks and the load test need, cached outside the repo by version:
# wrk (Debian; closed-loop load), vegeta (Go module; open-loop load at a fixed arrival rate) and a
# virtualenv with MLServer and its scikit-learn / XGBoost runtimes (the server we compare with).
# Prints `NAME=PATH` lines for the callers. Skips whatever is already there.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
log() { printf '[bench-tools] %s\n' "$*" >&2; }
want=${1:-all}  # all | load (vegeta only)

if [[ $want == all ]] && ! command -v wrk >/dev/null; then
  log "installing wrk (Debian package)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends wrk >/dev/null
fi

vegeta_dir="$CACHE_ROOT/vegeta-$VEGETA_VERSION"
if [[ ! -x "$vegeta_dir/vegeta" ]]; then
  log "building vegeta $VEGETA_VERSION from the Go module proxy"
  mkdir -p "$vegeta_dir"
  GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0 GOBIN="$vegeta_dir" \
    go install "github.com/tsenart/vegeta/v12@$VEGETA_VERSION"
fi
echo "VEGETA=$vegeta_dir/vegeta"

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
