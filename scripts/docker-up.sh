#!/usr/bin/env bash
# Make a working Docker daemon available on a Debian 12 machine, idempotently.
#
#   scripts/docker-up.sh            install docker.io (+ debootstrap), start dockerd
#   scripts/docker-up.sh --check    only report whether the daemon answers (exit 0/1)
#
# - Installs docker.io and debootstrap with apt-get when missing.
# - Starts dockerd through systemd when systemd is PID 1, otherwise by hand in
#   the background (CI VMs and containers have no systemd), logging to
#   ${DOCKERD_LOG:-/var/log/dockerd.log}, and waits for /var/run/docker.sock.
# - Safe to run again: does nothing when the daemon already answers.
#
# Never run test containers with --privileged here (the VM lacks
# CAP_SYS_RESOURCE) and never bind-mount /sys/fs/cgroup into a container.
set -euo pipefail

DOCKERD_LOG=${DOCKERD_LOG:-/var/log/dockerd.log}
DOCKER_SOCK=${DOCKER_SOCK:-/var/run/docker.sock}
WAIT_SECONDS=${DOCKER_UP_WAIT:-60}

log() { printf 'docker-up: %s\n' "$*" >&2; }

daemon_answers() {
  [ -S "$DOCKER_SOCK" ] && docker version --format '{{.Server.Version}}' >/dev/null 2>&1
}

if [ "${1:-}" = "--check" ]; then
  if daemon_answers; then
    log "dockerd answers on $DOCKER_SOCK"
    exit 0
  fi
  log "dockerd does not answer on $DOCKER_SOCK"
  exit 1
fi

if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi

# 1. Packages -----------------------------------------------------------------
missing=()
for pkg in docker.io debootstrap; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$pkg")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" iptables ca-certificates >/dev/null
fi

# 2. Daemon -------------------------------------------------------------------
if daemon_answers; then
  log "dockerd already running ($(docker version --format '{{.Server.Version}}'))"
  exit 0
fi

if [ -d /run/systemd/system ] && [ "$(ps -o comm= -p 1)" = "systemd" ]; then
  log "starting docker.service with systemctl"
  $SUDO systemctl enable --now docker.service
else
  # A stale pid file from a killed daemon blocks the start; remove it only
  # when the recorded process is gone.
  for pidfile in /var/run/docker.pid /run/docker/containerd/containerd.pid; do
    if [ -f "$pidfile" ] && ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      $SUDO rm -f "$pidfile"
    fi
  done
  if pgrep -x dockerd >/dev/null; then
    log "dockerd process exists but does not answer yet; waiting"
  else
    log "starting dockerd by hand (no systemd PID 1), log: $DOCKERD_LOG"
    # setsid detaches the daemon from this shell's session and job control.
    $SUDO setsid dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
  fi
fi

for _ in $(seq 1 "$WAIT_SECONDS"); do
  if daemon_answers; then
    log "dockerd is up ($(docker version --format '{{.Server.Version}}'))"
    exit 0
  fi
  sleep 1
done
log "dockerd did not answer within ${WAIT_SECONDS}s; last lines of $DOCKERD_LOG:"
tail -n 20 "$DOCKERD_LOG" >&2 || true
exit 1
