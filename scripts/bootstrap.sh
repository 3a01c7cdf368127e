#!/usr/bin/env bash
# Set up a fresh Debian 12 machine for this collection, idempotently, and print the venv's bin dir.
#
#   scripts/bootstrap.sh            controller: Python venv with requirements.txt (+ apt basics)
#   scripts/bootstrap.sh --tests    also what the tests need: docker.io, debootstrap, openssl, Go on PATH
#
# The venv lives outside the repository, keyed by the hash of requirements.txt, so a repeat
# run costs nothing and a change of pins builds a new one:
#   ${HANSENEXUS_CACHE:-$HOME/.cache/hansenexus}/venv-<hash>
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${HANSENEXUS_CACHE:-$HOME/.cache/hansenexus}
log() { printf 'bootstrap: %s\n' "$*" >&2; }

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  log "apt-get install ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

apt_install python3-venv ca-certificates openssl openssh-client git make rsync

PY=${HANSENEXUS_PYTHON:-$(command -v python3.11 || command -v python3)}
hash=$( (cat "$ROOT/requirements.txt"; "$PY" --version) | sha256sum | cut -c1-12)
VENV="$CACHE/venv-$hash"
if [ ! -x "$VENV/bin/ansible-playbook" ] || [ ! -f "$VENV/.complete" ]; then
  log "creating $VENV"
  rm -rf "$VENV"
  mkdir -p "$CACHE"
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip >&2
  "$VENV/bin/pip" install -q -r "$ROOT/requirements.txt" >&2
  touch "$VENV/.complete"
fi

if [ "${1:-}" = "--tests" ]; then
  export PATH="/usr/local/go/bin:$PATH"
  command -v go >/dev/null || { log "Go is required to build the test control plane (expected in /usr/local/go/bin)"; exit 1; }
  "$ROOT/scripts/docker-up.sh" >&2
fi

echo "$VENV/bin"
