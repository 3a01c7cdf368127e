#!/usr/bin/env bash
# Build the Docker Compose v2 CLI plugin from the Go module proxy, once, cached.
#
#   scripts/compose-build.sh          build (or reuse) and print the binary's path
#   scripts/compose-build.sh --path   only print where the binary is (or would be)
#
# Debian 12 ships only docker-compose 1.29 (Python); the hub role and the
# Molecule hub scenario need the real Compose v2. tests/compose/go/go.mod
# requires github.com/docker/compose/v2 at COMPOSE_VERSION (with compose's own
# `exclude` block, which a dependent module must repeat), and this script runs
# `go build` of its cmd package into
#   ${HANSENEXUS_CACHE:-$HOME/.cache/hansenexus}/compose/<version>/docker-compose
# A cold build takes about 7 minutes (module downloads + compile); afterwards the
# cached binary is reused. FORCE=1 rebuilds. Needs Go (>= 1.24) at /usr/local/go
# or on PATH, and access to the Go module proxy.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SRC=$HERE/tests/compose/go
CACHE=${HANSENEXUS_CACHE:-$HOME/.cache/hansenexus}
COMPOSE_VERSION=${COMPOSE_VERSION:-v2.40.3}
OUT_DIR=$CACHE/compose/$COMPOSE_VERSION
OUT=$OUT_DIR/docker-compose
FORCE=${FORCE:-0}

log() { printf 'compose-build: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

if [ "${1:-}" = "--path" ]; then
  echo "$OUT"
  exit 0
fi

grep -Eq "^require github\.com/docker/compose/v2 ${COMPOSE_VERSION}\$" "$SRC/go.mod" \
  || die "tests/compose/go/go.mod does not require github.com/docker/compose/v2 ${COMPOSE_VERSION}"

if [ "$FORCE" != 1 ] && [ -x "$OUT" ] && "$OUT" version 2>/dev/null | grep -q "${COMPOSE_VERSION}"; then
  log "reusing $OUT"
  echo "$OUT"
  exit 0
fi

export PATH=$PATH:/usr/local/go/bin
command -v go >/dev/null 2>&1 || die "go not found (expected /usr/local/go/bin/go)"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -buildvcs=false -mod=readonly"
export GOPROXY="${GOPROXY:-https://proxy.golang.org,direct}"

mkdir -p "$OUT_DIR" "$CACHE/logs"
tmp=$(mktemp "$OUT_DIR/.docker-compose.XXXXXX")
trap 'rm -f "$tmp"' EXIT
log "go build github.com/docker/compose/v2/cmd@${COMPOSE_VERSION} ($(go env GOVERSION); cold ~7 min, log: $CACHE/logs/compose-build.log)"
start=$(date +%s)
(cd "$SRC" && go build -trimpath \
  -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=${COMPOSE_VERSION}" \
  -o "$tmp" github.com/docker/compose/v2/cmd) >"$CACHE/logs/compose-build.log" 2>&1 \
  || { tail -20 "$CACHE/logs/compose-build.log" >&2; die "build failed"; }
chmod 0755 "$tmp"
"$tmp" version | grep -q "${COMPOSE_VERSION}" || die "built binary does not report ${COMPOSE_VERSION}: $("$tmp" version)"
mv -f "$tmp" "$OUT"
trap - EXIT
log "built $OUT in $(( $(date +%s) - start ))s"
echo "$OUT"
