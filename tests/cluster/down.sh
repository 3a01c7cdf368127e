#!/usr/bin/env bash
# Stop the local test control plane and remove its state directory (etcd
# data, certificates, kubeconfigs, logs). The built binaries stay cached.
#
#   tests/cluster/down.sh              stop and delete state
#   tests/cluster/down.sh --keep-state stop only (up.sh resumes on the same data)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

hn_lock
hn_stop_all

if [ "${1:-}" = "--keep-state" ]; then
  hn_log "stopped; state kept in ${HN_CLUSTER_STATE}"
  exit 0
fi
if [ -d "${HN_CLUSTER_STATE}" ]; then
  # Only ever delete a directory up.sh created.
  [ -f "${HN_CLUSTER_STATE}/.hn-cluster-state" ] \
    || hn_die "${HN_CLUSTER_STATE} has no .hn-cluster-state marker; not deleting it"
  rm -rf "${HN_CLUSTER_STATE}"
  hn_log "removed ${HN_CLUSTER_STATE}"
fi
# A kubeconfig placed outside the state dir by HN_CLUSTER_KUBECONFIG.
case "${HN_CLUSTER_KUBECONFIG}" in
  "${HN_CLUSTER_STATE}"/*) ;;
  *) rm -f "${HN_CLUSTER_KUBECONFIG}" ;;
esac
hn_log "down"
