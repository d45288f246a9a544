#!/usr/bin/env bash
# Build the sandbox base image from Debian packages only (no image registry needed).
#
#   scripts/build_sandbox_image.sh [--force] [--no-cache]
#
#   SAMOKODER_SANDBOX_IMAGE   image name (default samokoder-sandbox:bookworm)
#   SAMOKODER_DEBIAN_MIRROR   Debian archive to debootstrap from (default: the one apt uses
#                             here, read from /etc/apt/sources.list{,.d/*.list,.d/*.sources})
#
# The image: Debian bookworm minbase + python3 (venv, pip) + nodejs and npm (Debian's, 18.x),
# socat (the package proxy's bridge) and ca-certificates, a
# non-root user `sandbox` (uid/gid 10001, home /home/sandbox), /workspace owned by it,
# USER sandbox, WORKDIR /workspace, CMD sleep infinity. Same user, uid and paths as
# sandbox/Dockerfile, which is the registry-based equivalent.
#
# Exists already, built from this recipe and package list (the image's samokoder.content
# label) -> prints its id and exits (unless --force). The finished root filesystem
# is cached as var/sandbox/rootfs-<key>.tar (key: recipe version, mirrors, packages), so
# --force, or a fresh daemon, only re-imports it (seconds, no root needed).
# --no-cache runs debootstrap again (picks up new Debian updates). Needs a Docker daemon
# (scripts/dockerd.sh is called when none answers) and, to debootstrap, root.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SCRIPT="$ROOT/scripts/$(basename "${BASH_SOURCE[0]}")"
SAY=build_sandbox_image.sh
CACHE="$ROOT/var/sandbox"
IMAGE="${SAMOKODER_SANDBOX_IMAGE:-samokoder-sandbox:bookworm}"
SUITE=bookworm
PACKAGES=python3-minimal,python3,python3-venv,python3-pip,nodejs
# Installed with apt inside the new root after debootstrap, whose own resolver fails on npm's
# several hundred node-* dependencies.
APT_PACKAGES="npm socat ca-certificates"
SANDBOX_UID=10001
# Bump when the recipe below changes (what is done to the root filesystem): it is part of the
# cache key, with the mirrors, suite, packages and uid.
RECIPE=1
KEY_EXTRA="$SANDBOX_UID"
CONTENT="$(echo "$RECIPE $PACKAGES $APT_PACKAGES $SANDBOX_UID" | sha256sum | cut -c1-12)"
# shellcheck source=scripts/debian_image.sh
. "$ROOT/scripts/debian_image.sh"

FORCE=0
USE_CACHE=1
for arg in "$@"; do
    case "$arg" in
        --force) FORCE=1 ;;
        --no-cache) USE_CACHE=0; FORCE=1 ;;
        -h | --help) sed -n '2,21p' "$SCRIPT" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $arg (try --help)" >&2; exit 2 ;;
    esac
done

# The sandbox user and its workspace.
customise_rootfs() {
    chroot "$1" groupadd --gid "$SANDBOX_UID" sandbox
    chroot "$1" useradd --uid "$SANDBOX_UID" --gid "$SANDBOX_UID" --create-home \
        --home-dir /home/sandbox --shell /bin/bash sandbox
    install -d -m 0755 -o "$SANDBOX_UID" -g "$SANDBOX_UID" "$1/workspace"
}

docker_ready
if [ "$FORCE" = 0 ] && image_current; then
    say "$IMAGE exists (--force to rebuild)"
    report
    exit 0
fi
cache_lock
# Someone else may have built it while we waited for the lock.
if [ "$FORCE" = 0 ] && image_current; then
    report
    exit 0
fi

resolve_sources
START="$(now)"
rootfs_tarball "$USE_CACHE"
import_rootfs \
    --change 'USER sandbox' \
    --change 'WORKDIR /workspace' \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["sleep", "infinity"]' \
    --message "samokoder sandbox: debootstrap $SUITE minbase + $PACKAGES + $APT_PACKAGES"
say "total: $(elapsed "$START") s"
report
