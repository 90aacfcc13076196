#!/usr/bin/env bash
# Certificates and kubeconfigs of the local cluster (one CA; made once, reused by later ups).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
mkdir -p "$PKI"
cd "$PKI"

if [[ ! -f ca.crt ]]; then
  log "creating the cluster CA and certificates in $PKI"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -keyout ca.key -out ca.crt \
    -subj "/CN=mlrollout-local-ca" 2>/dev/null
  # Service-account token signing key pair.
  openssl genrsa -out sa.key 2048 2>/dev/null
  openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
fi

# issue NAME SUBJECT [SANS]: a CA-signed client/server certificate.
issue() {
  local name=$1 subject=$2 sans=${3:-}
  [[ -f $name.crt ]] && return
  openssl req -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" -subj "$subject" 2>/dev/null
  local ext="extendedKeyUsage=serverAuth,clientAuth"
  [[ -n $sans ]] && ext+=$'\n'"subjectAltName=$sans"
  openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
    -out "$name.crt" -extfile <(printf '%s\n' "$ext") 2>/dev/null
  rm -f "$name.csr"
}

issue apiserver "/CN=kube-apiserver" \
  "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:127.0.0.1,IP:$NODE_IP,IP:$API_SERVICE_IP"
# The harness' own components use the admin identity (system:masters); the kubelet gets a node
# identity so the Node authorizer applies to it.
issue admin "/O=system:masters/CN=mlrollout-admin"
issue kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" "DNS:$NODE_NAME,IP:$NODE_IP,IP:127.0.0.1"
# The aggregation layer's client (the API server proxying to metrics-server). Same CA, but the
# API server only trusts request headers from this one name (--requestheader-allowed-names).
issue front-proxy-client "/CN=front-proxy-client"

# kubeconfig FILE CERT CONTEXT
kubeconfig() {
  local file=$1 cert=$2 context=$3
  cat >"$file" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: $context
  cluster:
    server: https://$NODE_IP:$API_PORT
    certificate-authority-data: $(base64 -w0 ca.crt)
users:
- name: $context-$cert
  user:
    client-certificate-data: $(base64 -w0 "$cert.crt")
    client-key-data: $(base64 -w0 "$cert.key")
contexts:
- name: $context
  context: {cluster: $context, user: $context-$cert}
current-context: $context
YAML
}
kubeconfig "$KUBECONFIG_PATH" admin "$CONTEXT"
kubeconfig "$PKI/kubelet.kubeconfig" kubelet "$CONTEXT"
chmod 600 "$PKI"/*.key "$KUBECONFIG_PATH"
