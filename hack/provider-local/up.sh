#!/usr/bin/env bash
# Bring up a real single-node Kubernetes from local processes: etcd, the control plane,
# containerd + kubelet on a bridge network, kube-proxy and CoreDNS. Idempotent.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
[[ $EUID -eq 0 ]] || die "the local cluster needs root (it creates a bridge and runs a kubelet)"
started=$SECONDS

"$hack_dir/install-packages.sh"
"$hack_dir/build-binaries.sh"
mkdir -p "$STATE" "$RUN" "$LOGS"
"$hack_dir/provider-local/pki.sh"
"$hack_dir/provider-local/configs.sh"
conf=$STATE/conf

log "network: bridge $BRIDGE with node IP $NODE_IP"
ip link show "$BRIDGE" >/dev/null 2>&1 || ip link add "$BRIDGE" type bridge
# (the address list is read first: `ip | grep -q` fails under pipefail when grep exits early)
addresses=$(ip -4 addr show dev "$BRIDGE")
[[ $addresses == *"inet $NODE_IP/"* ]] || ip addr add "$NODE_IP/16" dev "$BRIDGE"
ip link set "$BRIDGE" up
sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1 2>/dev/null || true

start_daemon etcd etcd --name mlrollout --data-dir "$STATE/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "mlrollout=http://127.0.0.1:$ETCD_PEER_PORT"
wait_for "etcd health" 60 "$LOGS/etcd.log" curl -sf "http://127.0.0.1:$ETCD_CLIENT_PORT/health"

start_daemon kube-apiserver "$K8S_BIN/kube-apiserver" \
  --etcd-servers "http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --bind-address 0.0.0.0 --secure-port "$API_PORT" --advertise-address "$NODE_IP" \
  --service-cluster-ip-range "$SERVICE_CIDR" \
  --client-ca-file "$PKI/ca.crt" \
  --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
  --kubelet-client-certificate "$PKI/admin.crt" --kubelet-client-key "$PKI/admin.key" \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
  --authorization-mode Node,RBAC --allow-privileged=false \
  --enable-admission-plugins NodeRestriction \
  --kubelet-preferred-address-types InternalIP \
  --requestheader-client-ca-file "$PKI/ca.crt" --requestheader-allowed-names front-proxy-client \
  --requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
  --requestheader-extra-headers-prefix X-Remote-Extra- \
  --proxy-client-cert-file "$PKI/front-proxy-client.crt" \
  --proxy-client-key-file "$PKI/front-proxy-client.key" --enable-aggregator-routing=true \
  --profiling=false
wait_for "API server /readyz" 120 "$LOGS/kube-apiserver.log" kubectl_ get --raw /readyz

start_daemon kube-controller-manager "$K8S_BIN/kube-controller-manager" \
  --kubeconfig "$KUBECONFIG_PATH" --authentication-kubeconfig "$KUBECONFIG_PATH" \
  --authorization-kubeconfig "$KUBECONFIG_PATH" \
  --root-ca-file "$PKI/ca.crt" --service-account-private-key-file "$PKI/sa.key" \
  --use-service-account-credentials \
  --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
  --leader-elect=false --bind-address 127.0.0.1 --horizontal-pod-autoscaler-sync-period 5s
start_daemon kube-scheduler "$K8S_BIN/kube-scheduler" \
  --kubeconfig "$KUBECONFIG_PATH" --authentication-kubeconfig "$KUBECONFIG_PATH" \
  --authorization-kubeconfig "$KUBECONFIG_PATH" --leader-elect=false --bind-address 127.0.0.1
wait_for "default ServiceAccount" 120 "$LOGS/kube-controller-manager.log" \
  kubectl_ get serviceaccount default -n default

start_daemon containerd containerd --config "$conf/containerd.toml"
wait_for "containerd socket" 60 "$LOGS/containerd.log" \
  ctr --address "$CONTAINERD_SOCK" version
"$hack_dir/images.sh" pause

start_daemon kubelet "$K8S_BIN/kubelet" --config "$conf/kubelet.yaml" \
  --kubeconfig "$PKI/kubelet.kubeconfig" --node-ip "$NODE_IP" \
  --hostname-override "$NODE_NAME" --root-dir "$STATE/kubelet" --cert-dir "$STATE/kubelet/pki"
wait_for "node $NODE_NAME Ready" 180 "$LOGS/kubelet.log" \
  kubectl_ wait --for=condition=Ready "node/$NODE_NAME" --timeout=5s

start_daemon kube-proxy "$K8S_BIN/kube-proxy" --config "$conf/kube-proxy.yaml"
wait_for "kube-proxy healthy" 60 "$LOGS/kube-proxy.log" curl -sf http://127.0.0.1:10256/healthz
start_daemon coredns "$K8S_BIN/coredns" -conf "$conf/Corefile"
wait_for "DNS answering for kubernetes.default" 60 "$LOGS/coredns.log" \
  bash -c "dig +short +time=1 +tries=1 @$NODE_IP kubernetes.default.svc.cluster.local | grep -qx $API_SERVICE_IP"

# metrics-server on the host, registered as the metrics.k8s.io APIService (HPAs read CPU from it).
start_daemon metrics-server "$K8S_BIN/metrics-server" \
  --kubeconfig "$KUBECONFIG_PATH" --authentication-kubeconfig "$KUBECONFIG_PATH" \
  --authorization-kubeconfig "$KUBECONFIG_PATH" \
  --bind-address "$NODE_IP" --secure-port "$METRICS_SERVER_PORT" --cert-dir "$STATE/metrics-server" \
  --kubelet-preferred-address-types InternalIP --kubelet-insecure-tls --metric-resolution 15s
kubectl_ apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Service
metadata: {name: metrics-server, namespace: kube-system}
spec:
  ports: [{name: https, port: 443, targetPort: $METRICS_SERVER_PORT}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: metrics-server-host
  namespace: kube-system
  labels: {kubernetes.io/service-name: metrics-server}
addressType: IPv4
endpoints: [{addresses: ["$NODE_IP"]}]
ports: [{name: https, port: $METRICS_SERVER_PORT, protocol: TCP}]
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1beta1.metrics.k8s.io}
spec:
  group: metrics.k8s.io
  version: v1beta1
  service: {name: metrics-server, namespace: kube-system, port: 443}
  insecureSkipTLSVerify: true   # its serving certificate is self-signed, on this machine only
  groupPriorityMinimum: 100
  versionPriority: 100
YAML
wait_for "metrics API available" 90 "$LOGS/metrics-server.log" \
  kubectl_ wait --for=condition=Available apiservice/v1beta1.metrics.k8s.io --timeout=5s

log "smoke pod"
kubectl_ apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: mlrollout-smoke, namespace: default}
spec:
  automountServiceAccountToken: false
  containers:
  - name: pause
    image: localhost/mlrollout-pause:catatonit
    imagePullPolicy: Never
YAML
wait_for "smoke pod Ready" 120 "$LOGS/kubelet.log" \
  kubectl_ wait --for=condition=Ready pod/mlrollout-smoke -n default --timeout=5s
kubectl_ delete pod mlrollout-smoke -n default --wait=false >/dev/null

mkdir -p "$repo_root/bin"
ln -sf "$K8S_BIN/kubectl" "$repo_root/bin/kubectl"
ln -sf "$K8S_BIN/helm" "$repo_root/bin/helm"
log "cluster up in $((SECONDS - started))s; export KUBECONFIG=$KUBECONFIG_PATH (context $CONTEXT)"
