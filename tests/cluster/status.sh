#!/usr/bin/env bash
# Report the local test control plane: exit 0 when every component runs and
# the API server is ready, 1 otherwise. Prints the kubeconfig path when up.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

for c in ${HN_CLUSTER_COMPONENTS}; do
  if pid="$(hn_pid "${c}")"; then
    hn_log "${c}: running (pid ${pid})"
  else
    hn_log "${c}: not running"
  fi
done
if hn_healthy; then
  hn_log "healthy: https://${HN_CLUSTER_HOST}:${HN_CLUSTER_APISERVER_PORT}"
  printf '%s\n' "${HN_CLUSTER_KUBECONFIG}"
  exit 0
fi
hn_log "not healthy (binaries: $(hn_binaries_present && echo built || echo 'not built'))"
exit 1
