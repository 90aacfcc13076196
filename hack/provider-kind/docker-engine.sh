#!/usr/bin/env bash
# Sourced by the kind provider: make `docker` answer. The user's engine when `docker info` answers
# (it is never touched); otherwise Debian's dockerd, started here on its own socket, data root and
# pid file, with the runtime wrapper as its default runtime (see runtime-wrapper.sh).
# shellcheck shell=bash
DOCKER_STATE=/var/lib/mlrollout-docker
DOCKER_RUN=/run/mlrollout-docker
OWN_DOCKER_HOST=unix://$DOCKER_RUN/docker.sock
DOCKER_LOG=$DOCKER_STATE/dockerd.log

own_engine_running() {
  [[ -f $DOCKER_RUN/dockerd.pid ]] && daemon_alive "$(cat "$DOCKER_RUN/dockerd.pid")"
}

# use_own_engine_if_running: point docker (and kind) at the project's engine when it runs; for
# commands that only look (a running engine is then the one holding the cluster).
use_own_engine_if_running() {
  if own_engine_running; then export DOCKER_HOST=$OWN_DOCKER_HOST; fi
}

# ensure_docker: export DOCKER_HOST when the project's own engine is the one to use.
ensure_docker() {
  if own_engine_running; then
    export DOCKER_HOST=$OWN_DOCKER_HOST
    return
  fi
  if [[ -z ${MLROLLOUT_OWN_DOCKER:-} ]] && command -v docker >/dev/null && docker info >/dev/null 2>&1; then
    log "using the Docker engine that answers at ${DOCKER_HOST:-its default socket}"
    return
  fi
  [[ $EUID -eq 0 ]] || die "no Docker engine answers and starting one needs root: start Docker, or run as root"
  "$hack_dir/install-packages.sh" docker.io jq
  mkdir -p "$DOCKER_STATE" "$DOCKER_RUN"
  install -m 0755 "$hack_dir/provider-kind/runtime-wrapper.sh" "$DOCKER_RUN/runc-wrapper"
  log "starting the project's Docker engine (socket $OWN_DOCKER_HOST, data $DOCKER_STATE, log $DOCKER_LOG)"
  # --iptables=false: nothing here needs NAT to leave the machine, and dockerd's FORWARD DROP
  # policy would cut the local provider's pods off from each other.
  setsid dockerd --host "$OWN_DOCKER_HOST" --data-root "$DOCKER_STATE/data" \
    --exec-root "$DOCKER_RUN/exec" --pidfile "$DOCKER_RUN/dockerd.pid" \
    --iptables=false --ip-masq=false --exec-opt native.cgroupdriver=cgroupfs \
    --add-runtime "mlrollout-runc=$DOCKER_RUN/runc-wrapper" --default-runtime mlrollout-runc \
    --default-ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" \
    >>"$DOCKER_LOG" 2>&1 </dev/null &
  export DOCKER_HOST=$OWN_DOCKER_HOST
  wait_for "Docker engine" 60 "$DOCKER_LOG" docker info
}

stop_own_docker() {
  own_engine_running || return 0
  local pid
  pid=$(cat "$DOCKER_RUN/dockerd.pid")
  log "stopping the project's Docker engine (pid $pid)"
  kill "$pid"
  for _ in $(seq 30); do daemon_alive "$pid" || break; sleep 1; done
  rm -f "$DOCKER_RUN/dockerd.pid"
}
