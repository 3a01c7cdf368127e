#!/usr/bin/env bash
# Start the local test control plane: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler and kwok (fake nodes), all on
# 127.0.0.1. Builds the binaries first if the cache lacks them (slow once).
# Prints the kubeconfig path on stdout (last line); everything else on stderr.
#
# Env: HANSENEXUS_CACHE, HN_CLUSTER_STATE, HN_CLUSTER_KUBECONFIG,
#      HN_CLUSTER_NODES (default "hn-k3s-1"), KWOK_POD_READY_DELAY (default 1s),
#      HN_CLUSTER_*_PORT. See README.md.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

HN_CLUSTER_NODES="${HN_CLUSTER_NODES:-hn-k3s-1}"
KWOK_POD_READY_DELAY="${KWOK_POD_READY_DELAY:-1s}"

# duration_ms 2s|500ms|1.5s|1m|0 -> milliseconds
duration_ms() {
  local d="$1"
  [[ "${d}" =~ ^([0-9]+(\.[0-9]+)?)(ms|s|m)?$ ]] \
    || hn_die "KWOK_POD_READY_DELAY=${d}: use e.g. 0, 500ms, 2s, 1.5s, 1m"
  awk -v n="${BASH_REMATCH[1]}" -v u="${BASH_REMATCH[3]:-s}" \
    'BEGIN { f = (u == "ms") ? 1 : (u == "m") ? 60000 : 1000; printf "%d\n", n * f }'
}
pod_ready_delay_ms="$(duration_ms "${KWOK_POD_READY_DELAY}")"

apply_stages() {
  sed -E "s/: [0-9]+( +# @POD_READY_DELAY_MS@)/: ${pod_ready_delay_ms}\1/" "${HN_CLUSTER_DIR}/kwok/stages.yaml" \
    | hn_kubectl apply --server-side --force-conflicts --field-manager=hn-cluster -f - >/dev/null
}

hn_lock
started=$(date +%s.%N)
elapsed() { awk -v s="${started}" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }'; }

# All processes alive but the API not ready (busy machine): give it a minute
# before deciding the cluster is broken and restarting it under its users.
if hn_all_alive && ! hn_healthy; then
  for _ in $(seq 1 60); do
    hn_healthy && break
    sleep 1
  done
fi
if hn_healthy; then
  apply_stages
  hn_log "already running and healthy (pod ready delay now ${KWOK_POD_READY_DELAY})"
  printf '%s\n' "${HN_CLUSTER_KUBECONFIG}"
  exit 0
fi

# Stale or partial run: stop what is left, keep state (certs, etcd data).
hn_stop_all

"${HN_CLUSTER_DIR}/build.sh" >&2

if ! command -v openssl >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    hn_log "installing openssl"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >&2 \
      || { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >&2; }
  else
    hn_die "openssl not found"
  fi
fi
command -v python3 >/dev/null 2>&1 || hn_die "python3 not found"

mkdir -p "${HN_CLUSTER_STATE}" "${HN_CLUSTER_PIDS}" "${HN_CLUSTER_LOGS}" "${HN_CLUSTER_PKI}"
touch "${HN_CLUSTER_STATE}/.hn-cluster-state"
chmod 700 "${HN_CLUSTER_STATE}"

# Refuse to start over something else listening on our ports.
for port in "${HN_CLUSTER_ETCD_PORT}" "${HN_CLUSTER_ETCD_PEER_PORT}" "${HN_CLUSTER_APISERVER_PORT}" \
            "${HN_CLUSTER_KCM_PORT}" "${HN_CLUSTER_SCHEDULER_PORT}" "${HN_CLUSTER_KWOK_PORT}"; do
  if (exec 3<>"/dev/tcp/${HN_CLUSTER_HOST}/${port}") 2>/dev/null; then
    hn_die "port ${HN_CLUSTER_HOST}:${port} is already in use (set HN_CLUSTER_*_PORT)"
  fi
done

# --- PKI (EC P-256; generated once per state dir) -----------------------------
pki() { openssl "$@" 2>>"${HN_CLUSTER_LOGS}/pki.log"; }
ca() { # ca NAME CN
  [ -f "${HN_CLUSTER_PKI}/$1.crt" ] && return 0
  pki ecparam -name prime256v1 -genkey -noout -out "${HN_CLUSTER_PKI}/$1.key"
  pki req -x509 -new -key "${HN_CLUSTER_PKI}/$1.key" -subj "/CN=$2" \
    -days 3650 -sha256 -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" -out "${HN_CLUSTER_PKI}/$1.crt"
}
cert() { # cert NAME SUBJECT [EXTENSIONS [CA]]
  local name="$1" subj="$2" ext="${3:-}" issuer="${4:-ca}"
  [ -f "${HN_CLUSTER_PKI}/${name}.crt" ] && return 0
  pki ecparam -name prime256v1 -genkey -noout -out "${HN_CLUSTER_PKI}/${name}.key"
  pki req -new -key "${HN_CLUSTER_PKI}/${name}.key" -subj "${subj}" -out "${HN_CLUSTER_PKI}/${name}.csr"
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n%s\n' \
    "${ext:-extendedKeyUsage=clientAuth}" > "${HN_CLUSTER_PKI}/${name}.ext"
  pki x509 -req -in "${HN_CLUSTER_PKI}/${name}.csr" -CA "${HN_CLUSTER_PKI}/${issuer}.crt" \
    -CAkey "${HN_CLUSTER_PKI}/${issuer}.key" -CAcreateserial -days 3650 -sha256 \
    -extfile "${HN_CLUSTER_PKI}/${name}.ext" -out "${HN_CLUSTER_PKI}/${name}.crt"
  rm -f "${HN_CLUSTER_PKI}/${name}.csr" "${HN_CLUSTER_PKI}/${name}.ext"
}
(
  umask 077
  ca ca hansenexus-test-cluster-ca
  # Aggregation layer (front proxy): its own CA, as kubeadm and k3s do.
  ca front-proxy-ca hansenexus-test-front-proxy-ca
  cert front-proxy-client "/CN=front-proxy-client" "" front-proxy-ca
  cert apiserver "/CN=kube-apiserver" \
    "extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:10.43.0.1"
  cert admin "/O=system:masters/CN=hansenexus-admin"
  cert kube-controller-manager "/CN=system:kube-controller-manager"
  cert kube-scheduler "/CN=system:kube-scheduler"
  cert kwok "/O=system:masters/CN=kwok-controller"
  if [ ! -f "${HN_CLUSTER_PKI}/sa.key" ]; then
    pki ecparam -name prime256v1 -genkey -noout -out "${HN_CLUSTER_PKI}/sa.key"
    pki ec -in "${HN_CLUSTER_PKI}/sa.key" -pubout -out "${HN_CLUSTER_PKI}/sa.pub"
  fi
)

server="https://${HN_CLUSTER_HOST}:${HN_CLUSTER_APISERVER_PORT}"
kubeconfig() { # kubeconfig FILE USER
  local file="$1" user="$2"
  b64() { base64 -w0 < "$1"; }
  umask 077
  mkdir -p "$(dirname "${file}")"
  cat > "${file}.tmp" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: hansenexus-test
  cluster:
    server: ${server}
    certificate-authority-data: $(b64 "${HN_CLUSTER_PKI}/ca.crt")
users:
- name: ${user}
  user:
    client-certificate-data: $(b64 "${HN_CLUSTER_PKI}/${user}.crt")
    client-key-data: $(b64 "${HN_CLUSTER_PKI}/${user}.key")
contexts:
- name: hansenexus-test
  context:
    cluster: hansenexus-test
    user: ${user}
current-context: hansenexus-test
KUBECONFIG
  mv "${file}.tmp" "${file}"
}
kubeconfig "${HN_CLUSTER_KUBECONFIG}" admin
for c in kube-controller-manager kube-scheduler kwok; do
  kubeconfig "${HN_CLUSTER_STATE}/${c}.kubeconfig" "${c}"
done

# --- processes ---------------------------------------------------------------
launch() { # launch NAME ARGS... (binary = NAME from the cache)
  local name="$1" exe="${HN_CLUSTER_BIN}/$1"
  shift
  # Keep the previous run's log for a post-mortem, start a fresh one.
  [ -f "${HN_CLUSTER_LOGS}/${name}.log" ] && mv -f "${HN_CLUSTER_LOGS}/${name}.log" "${HN_CLUSTER_LOGS}/${name}.log.prev"
  setsid "${exe}" "$@" </dev/null >"${HN_CLUSTER_LOGS}/${name}.log" 2>&1 8>&- &
  printf '%s %s\n' "$!" "${exe}" > "${HN_CLUSTER_PIDS}/${name}.pid"
  hn_log "started ${name} (pid $!, log ${HN_CLUSTER_LOGS}/${name}.log)"
}
try_for() { # try_for SECONDS COMMAND...: retry until it succeeds (0) or the time is up (1)
  local deadline=$((SECONDS + $1))
  shift
  while [ "${SECONDS}" -lt "${deadline}" ]; do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  return 1
}
wait_for() { # wait_for WHAT SECONDS COMMAND...
  local what="$1" secs="$2"
  shift 2
  try_for "${secs}" "$@" || hn_die "timed out after ${secs}s waiting for ${what}; logs in ${HN_CLUSTER_LOGS}"
}
alive() { hn_pid "$1" >/dev/null || hn_die "$1 exited; see ${HN_CLUSTER_LOGS}/$1.log"; }
http_ok() { # http_ok URL: plain GET on loopback answers 200
  python3 -c 'import sys, urllib.request; sys.exit(urllib.request.urlopen(sys.argv[1], timeout=2).status != 200)' "$1"
}

launch etcd \
  --name=hn-test --data-dir="${HN_CLUSTER_STATE}/etcd" \
  --listen-client-urls="http://${HN_CLUSTER_HOST}:${HN_CLUSTER_ETCD_PORT}" \
  --advertise-client-urls="http://${HN_CLUSTER_HOST}:${HN_CLUSTER_ETCD_PORT}" \
  --listen-peer-urls="http://${HN_CLUSTER_HOST}:${HN_CLUSTER_ETCD_PEER_PORT}" \
  --initial-advertise-peer-urls="http://${HN_CLUSTER_HOST}:${HN_CLUSTER_ETCD_PEER_PORT}" \
  --initial-cluster="hn-test=http://${HN_CLUSTER_HOST}:${HN_CLUSTER_ETCD_PEER_PORT}" \
  --unsafe-no-fsync --log-level=warn
wait_for "etcd" 30 http_ok "http://${HN_CLUSTER_HOST}:${HN_CLUSTER_ETCD_PORT}/health"

launch kube-apiserver \
  --bind-address="${HN_CLUSTER_HOST}" --secure-port="${HN_CLUSTER_APISERVER_PORT}" \
  --advertise-address="${HN_CLUSTER_HOST}" --endpoint-reconciler-type=none \
  --etcd-servers="http://${HN_CLUSTER_HOST}:${HN_CLUSTER_ETCD_PORT}" \
  --cert-dir="${HN_CLUSTER_STATE}/apiserver" \
  --client-ca-file="${HN_CLUSTER_PKI}/ca.crt" \
  --tls-cert-file="${HN_CLUSTER_PKI}/apiserver.crt" --tls-private-key-file="${HN_CLUSTER_PKI}/apiserver.key" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="${HN_CLUSTER_PKI}/sa.pub" \
  --service-account-signing-key-file="${HN_CLUSTER_PKI}/sa.key" \
  --service-cluster-ip-range=10.43.0.0/16 \
  --requestheader-client-ca-file="${HN_CLUSTER_PKI}/front-proxy-ca.crt" \
  --requestheader-allowed-names=front-proxy-client \
  --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
  --requestheader-extra-headers-prefix=X-Remote-Extra- \
  --proxy-client-cert-file="${HN_CLUSTER_PKI}/front-proxy-client.crt" \
  --proxy-client-key-file="${HN_CLUSTER_PKI}/front-proxy-client.key" \
  --authorization-mode=Node,RBAC --allow-privileged=true --profiling=false --v=1
wait_for "kube-apiserver /readyz" 90 bash -c \
  "[ \"\$('${HN_CLUSTER_BIN}/kubectl' --kubeconfig='${HN_CLUSTER_KUBECONFIG}' get --raw=/readyz --request-timeout=2s)\" = ok ]"

for c in kube-controller-manager kube-scheduler; do
  kc="${HN_CLUSTER_STATE}/${c}.kubeconfig"
  if [ "${c}" = kube-controller-manager ]; then
    extra=(--secure-port="${HN_CLUSTER_KCM_PORT}"
           --use-service-account-credentials=true
           --service-account-private-key-file="${HN_CLUSTER_PKI}/sa.key"
           --root-ca-file="${HN_CLUSTER_PKI}/ca.crt"
           --cluster-signing-cert-file="${HN_CLUSTER_PKI}/ca.crt"
           --cluster-signing-key-file="${HN_CLUSTER_PKI}/ca.key"
           --controllers='*'
           --flex-volume-plugin-dir="${HN_CLUSTER_STATE}/flexvolume")
  else
    extra=(--secure-port="${HN_CLUSTER_SCHEDULER_PORT}")
  fi
  launch "${c}" --kubeconfig="${kc}" --authentication-kubeconfig="${kc}" \
    --authorization-kubeconfig="${kc}" --bind-address="${HN_CLUSTER_HOST}" \
    --leader-elect=false --v=1 "${extra[@]}"
done

# CRDs (ours, kwok's Stage) and k3s-like defaults before kwok starts watching.
hn_kubectl apply --server-side --force-conflicts --field-manager=hn-cluster \
  -f "${HN_CLUSTER_SHARE}/kwok-stage-crd.yaml" -f "${HN_CLUSTER_DIR}/crds/" \
  -f "${HN_CLUSTER_DIR}/manifests/" >/dev/null
wait_for "CRDs Established" 60 "${HN_CLUSTER_BIN}/kubectl" --kubeconfig="${HN_CLUSTER_KUBECONFIG}" \
  wait --for=condition=Established --timeout=5s crd -l app.kubernetes.io/part-of=hansenexus-test-cluster
wait_for "CRDs Established" 60 "${HN_CLUSTER_BIN}/kubectl" --kubeconfig="${HN_CLUSTER_KUBECONFIG}" \
  wait --for=condition=Established --timeout=5s crd/stages.kwok.x-k8s.io
apply_stages

mkdir -p "${HN_CLUSTER_STATE}/kwok-home"
start_kwok() {
  # HOME is moved so kwok never reads a user's ~/.kwok/kwok.yaml.
  HOME="${HN_CLUSTER_STATE}/kwok-home" launch kwok \
    --kubeconfig="${HN_CLUSTER_STATE}/kwok.kubeconfig" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --node-ip="${HN_CLUSTER_HOST}" --cidr=10.42.0.0/16 \
    --server-address="${HN_CLUSTER_HOST}:${HN_CLUSTER_KWOK_PORT}" \
    --node-lease-duration-seconds=40 --enable-crds=Stage
}
start_kwok

# --- fake nodes ------------------------------------------------------------------
for node in ${HN_CLUSTER_NODES}; do
  if ! hn_kubectl get node "${node}" >/dev/null 2>&1; then
    # Created once with its capacity; kwok owns the status from then on
    # (status sent with a later update or apply would be ignored anyway).
    sed -e "s/@NODE@/${node}/g" -e "s/@K8S_VERSION@/${K8S_VERSION}/g" \
        -e "s/@KWOK_VERSION@/${KWOK_VERSION}/g" "${HN_CLUSTER_DIR}/kwok/node.yaml" \
      | hn_kubectl create -f - >/dev/null
  fi
done

alive kube-controller-manager; alive kube-scheduler; alive kwok
nodes_ready() {
  local node
  for node in ${HN_CLUSTER_NODES}; do
    try_for 30 "${HN_CLUSTER_BIN}/kubectl" --kubeconfig="${HN_CLUSTER_KUBECONFIG}" \
      wait --for=condition=Ready --timeout=5s "node/${node}" || return 1
  done
}
# kwok v0.8 now and then starts watching and never acts (no log line, no CPU, no node lease): a
# restart cures it. Three tries, then give up with the logs.
for attempt in 1 2 3; do
  nodes_ready && break
  [ "${attempt}" -lt 3 ] || hn_die "kwok did not report the nodes Ready after 3 starts; logs in ${HN_CLUSTER_LOGS}"
  hn_log "kwok did not report the nodes Ready within 30s; restarting it (start $((attempt + 1)) of 3)"
  kill -KILL "$(hn_pid kwok)" 2>/dev/null || true
  sleep 1
  start_kwok
done
# Pods can be admitted once the default service account exists (kcm made it).
wait_for "default service account" 60 "${HN_CLUSTER_BIN}/kubectl" --kubeconfig="${HN_CLUSTER_KUBECONFIG}" \
  get serviceaccount default -n default
alive kube-controller-manager; alive kube-scheduler; alive kwok

hn_log "ready in $(elapsed)s: API ${server}, nodes: ${HN_CLUSTER_NODES}, pod ready delay ${KWOK_POD_READY_DELAY}"
hn_log "export KUBECONFIG=${HN_CLUSTER_KUBECONFIG}"
printf '%s\n' "${HN_CLUSTER_KUBECONFIG}"
