#!/usr/bin/env bash
# Install the pinned Convex CLI (npm package `convex`) into the cache, idempotently, and print the
# path of its `convex` command.
#
#   scripts/convex-cli.sh        -> ${HANSENEXUS_CACHE:-$HOME/.cache/hansenexus}/convex-cli/<version>/bin/convex
#
# The version is the one the convex_backup module pins (CONVEX_CLI_VERSION in
# plugins/module_utils/backup.py). The CLI needs Node.js >= 20: the system's `node` is used when it is
# recent enough (installed with apt-get when missing); otherwise a Node.js 22 binary is installed from
# the npm registry (package node-linux-<arch>) into the cache. The printed command is a small wrapper
# that runs the CLI with that node, whatever `node` is first on PATH. npm's cache lives under the cache
# dir too; a repeat run costs nothing.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${HANSENEXUS_CACHE:-$HOME/.cache/hansenexus}
VERSION=$(sed -n 's/^CONVEX_CLI_VERSION = "\([0-9][0-9.]*\)"$/\1/p' "$ROOT/plugins/module_utils/backup.py")
NODE_FALLBACK=22.23.3
NODE_MIN_MAJOR=20
log() { printf 'convex-cli: %s\n' "$*" >&2; }

[ -n "$VERSION" ] || { log "CONVEX_CLI_VERSION not found in plugins/module_utils/backup.py"; exit 1; }
PREFIX="$CACHE/convex-cli/$VERSION"
BIN="$PREFIX/bin/convex"
if [ -x "$BIN" ] && [ -f "$PREFIX/.complete" ] && [ "$("$BIN" --version 2>/dev/null)" = "$VERSION" ]; then
  echo "$BIN"
  exit 0
fi

node_major() { "$1" -e 'process.stdout.write(process.versions.node.split(".")[0])' 2>/dev/null || echo 0; }

if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
  log "apt-get install nodejs npm"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi

NPM_CACHE="$CACHE/npm-cache"
npm_install() {  # npm_install DIR PACKAGE...
  npm install --prefix "$1" --cache "$NPM_CACHE" --no-audit --no-fund --ignore-scripts --loglevel=error \
    "${@:2}" >&2
}

NODE=$(command -v node)
if [ "$(node_major "$NODE")" -lt "$NODE_MIN_MAJOR" ]; then
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64) arch=arm64 ;;
    *) log "Node.js $("$NODE" --version) is too old (the Convex CLI needs >= $NODE_MIN_MAJOR) and no binary package for $(uname -m)"; exit 1 ;;
  esac
  NODE_DIR="$CACHE/convex-cli/node-$NODE_FALLBACK"
  NODE="$NODE_DIR/node_modules/node-linux-$arch/bin/node"
  if [ ! -x "$NODE" ]; then
    log "system Node.js is older than $NODE_MIN_MAJOR; installing node-linux-$arch@$NODE_FALLBACK from the npm registry"
    rm -rf "$NODE_DIR.tmp"
    npm_install "$NODE_DIR.tmp" "node-linux-$arch@$NODE_FALLBACK"
    rm -rf "$NODE_DIR"
    mv "$NODE_DIR.tmp" "$NODE_DIR"
  fi
fi

log "installing convex@$VERSION into $PREFIX"
TMP="$PREFIX.tmp.$$"
trap 'rm -rf "$TMP"' EXIT
rm -rf "$TMP"
npm_install "$TMP" "convex@$VERSION"
mkdir -p "$TMP/bin"
cat > "$TMP/bin/convex" <<EOF
#!/bin/sh
# The Convex CLI $VERSION with Node.js $("$NODE" --version), installed by scripts/convex-cli.sh.
exec "$NODE" "$PREFIX/node_modules/convex/bin/main.js" "\$@"
EOF
chmod 0755 "$TMP/bin/convex"
rm -rf "$PREFIX"
mv "$TMP" "$PREFIX"
trap - EXIT
got=$("$BIN" --version)
[ "$got" = "$VERSION" ] || { log "installed CLI reports version '$got', expected $VERSION"; exit 1; }
touch "$PREFIX/.complete"
echo "$BIN"
