# shellcheck shell=bash
# Variables defined here are used by the scripts that source this file.
# shellcheck disable=SC2034
# Shared settings for tests/cluster/{build,up,down}.sh. Source it, do not run it.

HN_CLUSTER_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=versions.env
. "${HN_CLUSTER_DIR}/versions.env"

# Go lives in /usr/local/go/bin on our machines; it is not on PATH by default.
case ":${PATH}:" in
  *:/usr/local/go/bin:*) ;;
  *) PATH="/usr/local/go/bin:${PATH}" ;;
esac
export PATH

HANSENEXUS_CACHE="${HANSENEXUS_CACHE:-${HOME}/.cache/hansenexus}"
HN_CLUSTER_KEY="k8s-${K8S_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}"
HN_CLUSTER_BIN="${HN_CLUSTER_BIN:-${HANSENEXUS_CACHE}/cluster/${HN_CLUSTER_KEY}/bin}"
HN_CLUSTER_SHARE="$(dirname "${HN_CLUSTER_BIN}")/share"
HN_CLUSTER_STATE="${HN_CLUSTER_STATE:-${HANSENEXUS_CACHE}/cluster-state}"
HN_CLUSTER_KUBECONFIG="${HN_CLUSTER_KUBECONFIG:-${HN_CLUSTER_STATE}/kubeconfig}"

# Loopback only, ports away from every default (2379/6443/10257/10259/...).
HN_CLUSTER_HOST=127.0.0.1
HN_CLUSTER_ETCD_PORT="${HN_CLUSTER_ETCD_PORT:-12379}"
HN_CLUSTER_ETCD_PEER_PORT="${HN_CLUSTER_ETCD_PEER_PORT:-12380}"
HN_CLUSTER_APISERVER_PORT="${HN_CLUSTER_APISERVER_PORT:-16443}"
HN_CLUSTER_KCM_PORT="${HN_CLUSTER_KCM_PORT:-16257}"
HN_CLUSTER_SCHEDULER_PORT="${HN_CLUSTER_SCHEDULER_PORT:-16259}"
HN_CLUSTER_KWOK_PORT="${HN_CLUSTER_KWOK_PORT:-16247}"

HN_CLUSTER_COMPONENTS="etcd kube-apiserver kube-controller-manager kube-scheduler kwok"

# hn_lock: serialise up.sh/down.sh runs on one state dir (fd 8; the lock file
# sits next to the state dir because down.sh deletes the dir itself).
hn_lock() {
  mkdir -p "$(dirname "${HN_CLUSTER_STATE}")"
  exec 8>"${HN_CLUSTER_STATE}.lock"
  flock 8
}

hn_log() { printf '[cluster] %s\n' "$*" >&2; }
hn_die() { printf '[cluster] ERROR: %s\n' "$*" >&2; exit 1; }

# hn_binaries_present: true when every binary of the pinned set is built.
hn_binaries_present() {
  [ -f "${HN_CLUSTER_BIN}/.complete" ] || return 1
  local b
  for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok; do
    [ -x "${HN_CLUSTER_BIN}/${b}" ] || return 1
  done
  [ -f "${HN_CLUSTER_SHARE}/kwok-stage-crd.yaml" ]
}

HN_CLUSTER_PIDS="${HN_CLUSTER_STATE}/pids"
HN_CLUSTER_LOGS="${HN_CLUSTER_STATE}/logs"
HN_CLUSTER_PKI="${HN_CLUSTER_STATE}/pki"

hn_kubectl() {
  "${HN_CLUSTER_BIN}/kubectl" --kubeconfig="${HN_CLUSTER_KUBECONFIG}" "$@"
}

# hn_pid NAME: print the pid of a running component we started, else fail.
# The pid file records the binary path too, so a recycled pid never matches.
hn_pid() {
  local file="${HN_CLUSTER_PIDS}/$1.pid" pid exe
  [ -f "${file}" ] || return 1
  read -r pid exe < "${file}" || return 1
  [ -n "${pid}" ] && [ -d "/proc/${pid}" ] || return 1
  [ "$(readlink "/proc/${pid}/exe" 2>/dev/null)" = "${exe}" ] || return 1
  printf '%s\n' "${pid}"
}

# hn_stop NAME: stop one component (TERM, then KILL after 15 s).
hn_stop() {
  local name="$1" pid
  if pid="$(hn_pid "${name}")"; then
    kill -TERM "${pid}" 2>/dev/null || true
    for _ in $(seq 1 150); do
      [ -d "/proc/${pid}" ] || break
      sleep 0.1
    done
    if [ -d "/proc/${pid}" ]; then
      hn_log "${name} (pid ${pid}) ignored TERM; killing"
      kill -KILL "${pid}" 2>/dev/null || true
    fi
    hn_log "stopped ${name} (pid ${pid})"
  fi
  rm -f "${HN_CLUSTER_PIDS}/${name}.pid"
}

hn_stop_all() {
  local c
  # Reverse start order: kwok first, etcd last.
  for c in kwok kube-scheduler kube-controller-manager kube-apiserver etcd; do
    hn_stop "${c}"
  done
}

hn_all_alive() {
  local c
  for c in ${HN_CLUSTER_COMPONENTS}; do
    hn_pid "${c}" >/dev/null || return 1
  done
}

# hn_healthy: the API answers /readyz and every component is alive.
hn_healthy() {
  hn_all_alive || return 1
  [ -f "${HN_CLUSTER_KUBECONFIG}" ] || return 1
  [ "$(hn_kubectl get --raw=/readyz --request-timeout=5s 2>/dev/null)" = "ok" ]
}
