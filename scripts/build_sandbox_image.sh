#!/usr/bin/env bash
# Build the sandbox base image from Debian packages only (no image registry needed).
#
#   scripts/build_sandbox_image.sh [--force] [--no-cache]
#
#   SAMOKODER_SANDBOX_IMAGE   image name (default samokoder-sandbox:bookworm)
#   SAMOKODER_DEBIAN_MIRROR   Debian archive to debootstrap from (default: the one apt uses
#                             here, read from /etc/apt/sources.list{,.d/*.list,.d/*.sources})
#
# The image: Debian bookworm minbase + python3 (venv, pip) + nodejs (Debian's, 18.x), npm
# (NPM_VERSION from the npm registry, checked against its sha512), socat (the package
# proxy's bridge) and ca-certificates, a
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
# Installed with apt inside the new root after debootstrap.
APT_PACKAGES="socat ca-certificates"
# npm comes from the npm registry, not Debian: Debian's npm package splits npm's dependencies
# into ~24,000 files of node-* packages (the image had 35,600 files, 11,500 without them).
# Docker's vfs storage driver copies every file of the image for each new container, so
# they made each sandbox 7-14 s to create here instead of ~1.5 s. npm's own tarball
# bundles what it needs in ~2,400 files. 10.9 is the newest npm that supports Node 18.
NPM_VERSION=10.9.2
NPM_SHA512=iriPEPIkoMYUy3F6f3wwSZAU93E0Eg6cHwIR6jzzOXWSy+SD/rOODEs74cVONHKSx2obXtuUoyidVEhISrisgQ==
NPM_REGISTRY="${SAMOKODER_NPM_REGISTRY:-https://registry.npmjs.org}"
SANDBOX_UID=10001
# Bump when the recipe below changes (what is done to the root filesystem): it is part of the
# cache key, with the mirrors, suite, packages and uid.
RECIPE=2
KEY_EXTRA="$SANDBOX_UID $NPM_VERSION"
CONTENT="$(echo "$RECIPE $PACKAGES $APT_PACKAGES $SANDBOX_UID $NPM_VERSION" | sha256sum | cut -c1-12)"
# shellcheck source=scripts/debian_image.sh
. "$ROOT/scripts/debian_image.sh"

FORCE=0
USE_CACHE=1
for arg in "$@"; do
    case "$arg" in
        --force) FORCE=1 ;;
        --no-cache) USE_CACHE=0; FORCE=1 ;;
        -h | --help) sed -n '2,22p' "$SCRIPT" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $arg (try --help)" >&2; exit 2 ;;
    esac
done

# The sandbox user and its workspace.
customise_rootfs() {
    chroot "$1" groupadd --gid "$SANDBOX_UID" sandbox
    chroot "$1" useradd --uid "$SANDBOX_UID" --gid "$SANDBOX_UID" --create-home \
        --home-dir /home/sandbox --shell /bin/bash sandbox
    install -d -m 0755 -o "$SANDBOX_UID" -g "$SANDBOX_UID" "$1/workspace"
    install_npm "$1"
}

# npm's registry tarball, its sha512 checked, unpacked as /usr/lib/node_modules/npm with
# /usr/bin/npm and /usr/bin/npx, where npm itself installs them.
install_npm() {
    local tgz="$CACHE/npm-$NPM_VERSION.tgz" t
    t="$(now)"
    if ! [ -f "$tgz" ] || ! npm_tarball_ok "$tgz"; then
        python3 - "$NPM_REGISTRY/npm/-/npm-$NPM_VERSION.tgz" "$tgz.partial" <<'PY'
import shutil, sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=60) as answer, open(sys.argv[2], "wb") as out:
    shutil.copyfileobj(answer, out)
PY
        mv "$tgz.partial" "$tgz"
        if ! npm_tarball_ok "$tgz"; then
            rm -f "$tgz"
            say "npm-$NPM_VERSION.tgz from $NPM_REGISTRY does not match its pinned sha512"
            exit 1
        fi
    fi
    install -d "$1/usr/lib/node_modules/npm"
    tar -xzf "$tgz" -C "$1/usr/lib/node_modules/npm" --strip-components=1 \
        --no-same-owner --no-same-permissions
    ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$1/usr/bin/npm"
    ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$1/usr/bin/npx"
    in_root "$1" npm --version
    say "npm $NPM_VERSION from $NPM_REGISTRY: $(elapsed "$t") s"
}

npm_tarball_ok() {
    python3 -c 'import base64, hashlib, sys
print(base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode())' \
        "$1" | grep -qxF "$NPM_SHA512"
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
