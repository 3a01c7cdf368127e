#!/usr/bin/env bash
# Build the pinned local control plane (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl, kwok) from the Go module
# proxy into ${HANSENEXUS_CACHE}/cluster/<versions>/bin.
#
#   tests/cluster/build.sh           build only what is missing
#   tests/cluster/build.sh --force   rebuild
#
# The first build compiles Kubernetes and takes a long time on 2 cores (see
# README.md); every later call returns at once. Safe to run concurrently: a
# lock serialises builders and the finished directory appears atomically.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

force=false
[ "${1:-}" = "--force" ] && force=true

if ! $force && hn_binaries_present; then
  hn_log "binaries present: ${HN_CLUSTER_BIN}"
  exit 0
fi

command -v go >/dev/null 2>&1 || hn_die "go not found (expected /usr/local/go/bin/go)"
gover="$(go env GOVERSION)"
case "${gover}" in
  go1.2[6-9]*|go1.[3-9][0-9]*) ;;
  *) hn_die "Go >= 1.26 needed (kwok ${KWOK_VERSION} and etcd ${ETCD_VERSION} require it), found ${gover}" ;;
esac
command -v flock >/dev/null 2>&1 || hn_die "flock (util-linux) not found"

# The go.mod files and versions.env must agree, or the cache key lies.
grep -Eq "^\s+k8s\.io/kubernetes ${K8S_VERSION}( |\$)" "${HN_CLUSTER_DIR}/go/k8s/go.mod" \
  || hn_die "go/k8s/go.mod does not require k8s.io/kubernetes ${K8S_VERSION}"
grep -Eq "^\s+go\.etcd\.io/etcd/server/v3 ${ETCD_VERSION}( |\$)" "${HN_CLUSTER_DIR}/go/etcd/go.mod" \
  || hn_die "go/etcd/go.mod does not require etcd ${ETCD_VERSION}"
grep -Eq "^\s+sigs\.k8s\.io/kwok ${KWOK_VERSION}( |\$)" "${HN_CLUSTER_DIR}/go/kwok/go.mod" \
  || hn_die "go/kwok/go.mod does not require kwok ${KWOK_VERSION}"

keydir="$(dirname "${HN_CLUSTER_BIN}")"
mkdir -p "${keydir}"
exec 9>"${keydir}/.build.lock"
flock 9
if ! $force && hn_binaries_present; then
  hn_log "binaries built by a concurrent run: ${HN_CLUSTER_BIN}"
  exit 0
fi

# Reproducible, static, offline-toolchain builds.
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -buildvcs=false -mod=readonly"
export GOPROXY="${GOPROXY:-https://proxy.golang.org,direct}"

tmp="${keydir}/bin.tmp"
rm -rf "${tmp}" "${keydir}/share.tmp"
mkdir -p "${tmp}" "${keydir}/share.tmp"

started=$(date +%s)
step() { hn_log "$(printf '[%4ss] %s' "$(( $(date +%s) - started ))" "$*")"; }

k8s_minor="${K8S_VERSION#v1.}"; k8s_minor="${k8s_minor%%.*}"
build_date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
k8s_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X ${pkg}.gitVersion=${K8S_VERSION} -X ${pkg}.gitMajor=1"
  k8s_ldflags+=" -X ${pkg}.gitMinor=${k8s_minor} -X ${pkg}.gitTreeState=clean"
  k8s_ldflags+=" -X ${pkg}.gitCommit=module-${K8S_VERSION} -X ${pkg}.buildDate=${build_date}"
done

step "etcd ${ETCD_VERSION}"
(cd "${HN_CLUSTER_DIR}/go/etcd" && go build -trimpath -ldflags "-s -w" \
  -o "${tmp}/etcd" go.etcd.io/etcd/server/v3)

step "kwok ${KWOK_VERSION}"
(cd "${HN_CLUSTER_DIR}/go/kwok" && go build -trimpath \
  -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION}" \
  -o "${tmp}/kwok" sigs.k8s.io/kwok/cmd/kwok)
# kwok's Stage CRD ships in the pinned module; keep it next to the binary.
kwokdir="$(cd "${HN_CLUSTER_DIR}/go/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)"
cp "${kwokdir}/kustomize/crd/bases/kwok.x-k8s.io_stages.yaml" "${keydir}/share.tmp/kwok-stage-crd.yaml"

step "kube-apiserver kube-controller-manager kube-scheduler kubectl ${K8S_VERSION} (the long part)"
(cd "${HN_CLUSTER_DIR}/go/k8s" && go build -trimpath -ldflags "${k8s_ldflags}" -o "${tmp}/" \
  k8s.io/kubernetes/cmd/kube-apiserver \
  k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler \
  k8s.io/kubernetes/cmd/kubectl)

step "done"
printf '%s\nbuilt %s in %ss with %s\n' "${HN_CLUSTER_KEY}" "${build_date}" \
  "$(( $(date +%s) - started ))" "${gover}" > "${tmp}/.complete"
rm -rf "${HN_CLUSTER_BIN}" "${HN_CLUSTER_SHARE}"
mv "${keydir}/share.tmp" "${HN_CLUSTER_SHARE}"
mv "${tmp}" "${HN_CLUSTER_BIN}"
hn_log "built into ${HN_CLUSTER_BIN} in $(( $(date +%s) - started ))s"
