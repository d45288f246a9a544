#!/usr/bin/env bash
# Build the app image (deploy/Dockerfile) on a machine with no image registry.
#
#   scripts/build_app_image.sh [--no-cache]
#
#   SAMOKODER_APP_IMAGE       image name (default samokoder:latest)
#   SAMOKODER_APP_BASE        base image name (default samokoder-base:bookworm)
#   SAMOKODER_DEBIAN_MIRROR   Debian archive to debootstrap from (default: the one apt uses)
#
# The Dockerfile starts FROM debian:bookworm-slim. Here that base is made from Debian
# packages instead: debootstrap bookworm minbase with its updates, slimmed as the -slim
# images are (no docs, man pages, translations, apt lists; the same dpkg excludes for what
# is installed later), imported with `docker import` (scripts/debian_image.sh, shared with
# the sandbox image). The finished root filesystem is cached as var/app-base/rootfs-<key>.tar.
# Then the Dockerfile itself is built on it (--build-arg BASE=...), with the host's network
# for apt and pip (the daemon may run without a bridge): Debian's python3, squid, socat,
# nginx-light, the pinned dependencies from PyPI, the code, collectstatic. So both ways
# give the same image; Docker's layer cache keeps the dependency layer until pyproject.toml
# changes. --no-cache: debootstrap again and build every layer afresh.
# Needs a Docker daemon (scripts/dockerd.sh is called when none answers) and, to
# debootstrap, root.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SCRIPT="$ROOT/scripts/$(basename "${BASH_SOURCE[0]}")"
SAY=build_app_image.sh
CACHE="$ROOT/var/app-base"
APP_IMAGE="${SAMOKODER_APP_IMAGE:-samokoder:latest}"
IMAGE="${SAMOKODER_APP_BASE:-samokoder-base:bookworm}"
SUITE=bookworm
PACKAGES=""
APT_PACKAGES=""
# Bump when the recipe below changes: it is part of the cache key, with this machine's own
# CA certificates (copied in: behind a TLS-inspecting egress, apt, pip and the app need them).
RECIPE=2
LOCAL_CAS=/usr/local/share/ca-certificates
KEY_EXTRA="slim $(cat "$LOCAL_CAS"/*.crt 2>/dev/null | sha256sum | cut -c1-12)"
CONTENT="$(echo "base $RECIPE $SUITE $KEY_EXTRA" | sha256sum | cut -c1-12)"
# shellcheck source=scripts/debian_image.sh
. "$ROOT/scripts/debian_image.sh"

USE_CACHE=1
for arg in "$@"; do
    case "$arg" in
        --no-cache) USE_CACHE=0 ;;
        -h | --help) sed -n '2,24p' "$SCRIPT" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $arg (try --help)" >&2; exit 2 ;;
    esac
done

# What debian:bookworm-slim does so that packages installed later stay slim too.
customise_rootfs() {
    cat >"$1/etc/dpkg/dpkg.cfg.d/docker-slim" <<'SLIM'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
SLIM
    # Added to the system bundle when the Dockerfile installs ca-certificates.
    if compgen -G "$LOCAL_CAS/*.crt" >/dev/null; then
        install -d "$1$LOCAL_CAS"
        cp "$LOCAL_CAS"/*.crt "$1$LOCAL_CAS/"
    fi
    # A container has no init to start services with: package scripts must not try.
    printf '#!/bin/sh\nexit 101\n' >"$1/usr/sbin/policy-rc.d"
    chmod 755 "$1/usr/sbin/policy-rc.d"
}

docker_ready
mkdir -p "$CACHE"
START="$(now)"
if [ "$USE_CACHE" = 1 ] && image_current; then
    say "base $IMAGE exists"
else
    cache_lock
    resolve_sources
    rootfs_tarball "$USE_CACHE"
    import_rootfs \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["bash"]' \
        --message "samokoder app base: debootstrap $SUITE minbase, slimmed"
fi
say "base: $(elapsed "$START") s"
BASE_IMAGE="$IMAGE"

IMAGE="$APP_IMAGE"
OLD_ID="$(image_id || true)"
t="$(now)"
NO_CACHE=()
[ "$USE_CACHE" = 1 ] || NO_CACHE=(--no-cache)
# The classic builder: it needs no buildx plugin, and takes --network host.
DOCKER_BUILDKIT=0 docker build "${NO_CACHE[@]}" --force-rm --network host --build-arg "BASE=$BASE_IMAGE" \
    -f "$ROOT/deploy/Dockerfile" -t "$APP_IMAGE" "$ROOT" >"$CACHE/build.log" 2>&1 || {
    tail -n 40 "$CACHE/build.log" >&2
    say "docker build failed (full log: $CACHE/build.log)"
    exit 1
}
say "docker build: $(elapsed "$t") s; total: $(elapsed "$START") s"
if [ -n "$OLD_ID" ] && [ "$OLD_ID" != "$(image_id)" ]; then
    docker image rm "$OLD_ID" >/dev/null 2>&1 || true  # still used by a container: kept
fi
report
