#!/usr/bin/env bash
# Debian packages the local cluster and the image builds need, plus any named as arguments (the
# kind provider adds docker.io and jq); installs only what is missing.
set -euo pipefail
packages=(
  "$@"
  etcd-server containerd runc containernetworking-plugins iptables conntrack iproute2
  podman mmdebstrap catatonit openssl curl ca-certificates dnsutils
  postgresql  # the integration tier's throwaway PostgreSQL (tests/host_postgres.py)
  chromium  # the dashboard's browser tests (tests/browser.py drives it headless)
  wrk  # the benchmarks' closed-loop load (their smoke runs are part of the test tiers)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep "install ok installed" >/dev/null || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "[install-packages] all present" >&2
  exit 0
fi
echo "[install-packages] installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# No init system runs here: keep package scripts from starting daemons we start ourselves.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "[install-packages] done" >&2
