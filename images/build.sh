#!/usr/bin/env bash
# Build hansenexus/debian12-systemd without any container registry.
#
#   images/build.sh            build (or reuse) the image, print its name
#   images/build.sh --verify   also start a container and wait for systemd
#
# 1. debootstrap --variant=minbase bookworm into
#    ${HANSENEXUS_CACHE:-$HOME/.cache/hansenexus}/rootfs/debian12-minbase (once),
# 2. docker import it as hansenexus/debian12-minbase:bookworm (once),
# 3. docker build images/debian12-systemd/Dockerfile FROM that image, tagged
#    :<sha256 of the Dockerfile, 12 chars> and moved tag :bookworm.
# A step is skipped when its result already exists; the Dockerfile hash decides
# whether the systemd image is rebuilt. FORCE=1 rebuilds everything.
#
# Needs a running Docker daemon (scripts/docker-up.sh) and debootstrap.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${HANSENEXUS_CACHE:-$HOME/.cache/hansenexus}
MIRROR=${HANSENEXUS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
ROOTFS=$CACHE/rootfs/debian12-minbase
BASE_IMAGE=hansenexus/debian12-minbase:$SUITE
IMAGE_REPO=hansenexus/debian12-systemd
CONTEXT=$HERE/debian12-systemd
FORCE=${FORCE:-0}

log() { printf 'images/build: %s\n' "$*" >&2; }
image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# Hash of everything in the build context (the Dockerfile only, today).
TAG=$(cd "$CONTEXT" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)
IMAGE=$IMAGE_REPO:$TAG

if [ "$FORCE" != 1 ] && image_exists "$IMAGE"; then
  log "reusing $IMAGE"
else
  # 1. rootfs ------------------------------------------------------------------
  if [ "$FORCE" = 1 ] || [ ! -f "$ROOTFS/.hansenexus-complete" ]; then
    command -v debootstrap >/dev/null || { log "debootstrap missing: run scripts/docker-up.sh"; exit 1; }
    log "debootstrap --variant=minbase $SUITE into $ROOTFS (a few minutes)"
    rm -rf "$ROOTFS"
    mkdir -p "$ROOTFS"
    debootstrap --variant=minbase "$SUITE" "$ROOTFS" "$MIRROR" >"$CACHE/rootfs/debootstrap.log" 2>&1 \
      || { log "debootstrap failed, see $CACHE/rootfs/debootstrap.log"; exit 1; }
    # Trim what a container never needs; keep apt lists out of the image.
    rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*
    touch "$ROOTFS/.hansenexus-complete"
    FORCE_IMPORT=1
  fi
  # 2. base image --------------------------------------------------------------
  if [ "${FORCE_IMPORT:-0}" = 1 ] || [ "$FORCE" = 1 ] || ! image_exists "$BASE_IMAGE"; then
    log "docker import $ROOTFS as $BASE_IMAGE"
    tar -C "$ROOTFS" --exclude=./.hansenexus-complete --numeric-owner -c . \
      | docker import --change 'CMD ["/bin/bash"]' - "$BASE_IMAGE" >/dev/null
  fi
  # 3. systemd image -----------------------------------------------------------
  log "docker build $IMAGE"
  # The classic builder works with Debian's docker.io alone (no buildx plugin).
  mkdir -p "$CACHE/logs"
  DOCKER_BUILDKIT=0 docker build --build-arg "BASE_IMAGE=$BASE_IMAGE" \
    --label "org.hansenexus.context-hash=$TAG" -t "$IMAGE" "$CONTEXT" >"$CACHE/logs/image-build.log" 2>&1 \
    || { tail -n 30 "$CACHE/logs/image-build.log" >&2; log "docker build failed, see $CACHE/logs/image-build.log"; exit 1; }
fi
docker tag "$IMAGE" "$IMAGE_REPO:$SUITE"

if [ "${1:-}" = "--verify" ]; then
  name=hansenexus-image-verify-$$
  log "starting $name to check that systemd comes up"
  docker run -d --name "$name" --cap-add SYS_ADMIN --cgroupns=private \
    --tmpfs /run --tmpfs /run/lock --tmpfs /tmp "$IMAGE" >/dev/null
  trap 'docker rm -f "$name" >/dev/null 2>&1 || true' EXIT
  # PID 1 needs a moment before systemctl can talk to it; retry until it
  # reports a final state.
  state=
  for _ in $(seq 1 30); do
    state=$(timeout 60 docker exec "$name" systemctl is-system-running --wait 2>/dev/null || true)
    case "$state" in running|degraded|maintenance|stopping) break ;; esac
    sleep 1
  done
  case "$state" in
    running|degraded)
      log "systemd state: $state"
      if [ "$state" = degraded ]; then
        docker exec "$name" systemctl --failed --no-legend >&2 || true
      fi
      ;;
    *)
      log "systemd did not come up (state: ${state:-none})"
      docker logs "$name" 2>&1 | tail -n 30 >&2
      exit 1
      ;;
  esac
fi
echo "$IMAGE_REPO:$SUITE"
