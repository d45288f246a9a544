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
CODENAMES='buster|bullseye|bookworm|trixie|forky|sid|oldoldstable|oldstable|stable|testing|unstable'

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

say() { echo "build_sandbox_image.sh: $*" >&2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

image_id() { docker image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null; }
# What the image was built from, as a label: an image from an older recipe or package list
# is rebuilt (from the rootfs cache when it has one) instead of being taken as current.
CONTENT="$(echo "$RECIPE $PACKAGES $APT_PACKAGES $SANDBOX_UID" | sha256sum | cut -c1-12)"
image_current() {
    [ "$(docker image inspect --format '{{index .Config.Labels "samokoder.content"}}' "$IMAGE" \
        2>/dev/null)" = "$CONTENT" ]
}

report() {
    local id size
    id="$(image_id)"
    size="$(docker image inspect --format '{{.Size}}' "$IMAGE")"
    say "$IMAGE: $((size / 1000000)) MB"
    echo "$id"
}

# --- Docker ---------------------------------------------------------------------------
if ! timeout 10 docker info >/dev/null 2>&1; then
    "$ROOT/scripts/dockerd.sh"
fi

if [ "$FORCE" = 0 ] && image_current; then
    say "$IMAGE exists (--force to rebuild)"
    report
    exit 0
fi

mkdir -p "$CACHE"
exec 9>"$CACHE/build.lock"
flock 9
# Someone else may have built it while we waited for the lock.
if [ "$FORCE" = 0 ] && image_current; then
    report
    exit 0
fi

# --- Mirrors: the ones apt uses on this machine -----------------------------------------
# Prints "URI SUITE" for every enabled `deb` entry with the main component, both formats.
apt_entries() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk '$1 == "deb" {
                i = 2
                if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                uri = $i; suite = $(i + 1); main = 0
                for (j = i + 2; j <= NF; j++) if ($j == "main") main = 1
                if (main) print uri, suite
            }' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk 'function flush(   u, s, nu, ns, a, b, x, y) {
                if (types ~ /(^|[ \t])deb([ \t]|$)/ && comps ~ /(^|[ \t])main([ \t]|$)/ && enabled != "no") {
                    nu = split(uris, a, /[ \t]+/); ns = split(suites, b, /[ \t]+/)
                    for (x = 1; x <= nu; x++) for (y = 1; y <= ns; y++)
                        if (a[x] != "" && b[y] != "") print a[x], b[y]
                }
                types = uris = suites = comps = enabled = ""
            }
            /^[ \t]*#/ { next }
            /^[ \t]*$/ { flush(); next }
            {
                key = tolower($1); sub(/:$/, "", key); $1 = ""; sub(/^[ \t]+/, "")
                if (key == "types") types = $0
                else if (key == "uris") uris = $0
                else if (key == "suites") suites = $0
                else if (key == "components") comps = $0
                else if (key == "enabled") enabled = tolower($0)
            }
            END { flush() }' "$f"
    done
}

ENTRIES="$(apt_entries || true)"
MIRROR="${SAMOKODER_DEBIAN_MIRROR:-$(awk -v re="^($CODENAMES)$" '$2 ~ re { print $1; exit }' <<<"$ENTRIES")}"
UPDATES="$(awk -v re="^($CODENAMES)-updates$" '$2 ~ re { print $1; exit }' <<<"$ENTRIES")"
SECURITY="$(awk -v re="^($CODENAMES)(-security|/updates)$" '$2 ~ re { print $1; exit }' <<<"$ENTRIES")"
if [ -z "$MIRROR" ]; then
    MIRROR=http://deb.debian.org/debian
    say "no Debian mirror found in apt's sources; using $MIRROR"
fi
MIRROR="${MIRROR%/}"
# The image's own sources (used once at build time to apply updates, kept for reference).
SOURCES="deb $MIRROR $SUITE main"
[ -n "$UPDATES" ] && SOURCES+=$'\n'"deb ${UPDATES%/} $SUITE-updates main"
[ -n "$SECURITY" ] && SOURCES+=$'\n'"deb ${SECURITY%/} $SUITE-security main"

KEY="$(echo "$RECIPE $SUITE $PACKAGES $APT_PACKAGES $SANDBOX_UID $SOURCES" | sha256sum | cut -c1-16)"
TARBALL="$CACHE/rootfs-$KEY.tar"

# --- Root filesystem ----------------------------------------------------------------------
build_rootfs() {
    if [ "$(id -u)" != 0 ]; then
        say "building the root filesystem needs root (debootstrap, chown); run: sudo $0 $*"
        exit 1
    fi
    if ! command -v debootstrap >/dev/null 2>&1 || [ ! -e /usr/share/keyrings/debian-archive-keyring.gpg ]; then
        say "installing debootstrap with apt"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap debian-archive-keyring >/dev/null
    fi

    DIR="$(mktemp -d "$CACHE/rootfs.XXXXXX")"
    trap cleanup_dir EXIT
    chmod 0755 "$DIR"  # becomes the image's /: mktemp's 0700 would lock out the sandbox user

    local t
    t="$(now)"
    say "debootstrap $SUITE from $MIRROR (+ $PACKAGES)"
    if ! debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$DIR" "$MIRROR" \
        >"$CACHE/debootstrap.log" 2>&1; then
        tail -n 30 "$CACHE/debootstrap.log" >&2
        say "debootstrap failed (full log: $CACHE/debootstrap.log)"
        exit 1
    fi
    say "debootstrap: $(elapsed "$t") s"

    echo "$SOURCES" >"$DIR/etc/apt/sources.list"
    if [ "$SOURCES" != "deb $MIRROR $SUITE main" ]; then
        t="$(now)"
        printf '#!/bin/sh\nexit 101\n' >"$DIR/usr/sbin/policy-rc.d"
        chmod 755 "$DIR/usr/sbin/policy-rc.d"
        if chroot "$DIR" apt-get update -qq >>"$CACHE/debootstrap.log" 2>&1 \
            && DEBIAN_FRONTEND=noninteractive chroot "$DIR" apt-get upgrade -y -qq \
                -o Dpkg::Options::=--force-confold >>"$CACHE/debootstrap.log" 2>&1; then
            say "updates (bookworm-updates/-security): $(elapsed "$t") s"
        else
            say "could not apply updates (see $CACHE/debootstrap.log); continuing with the release packages"
        fi
        rm -f "$DIR/usr/sbin/policy-rc.d"
    fi
    t="$(now)"
    printf '#!/bin/sh\nexit 101\n' >"$DIR/usr/sbin/policy-rc.d"
    chmod 755 "$DIR/usr/sbin/policy-rc.d"
    # shellcheck disable=SC2086 # a list of package names
    if ! { chroot "$DIR" apt-get update -qq && DEBIAN_FRONTEND=noninteractive chroot "$DIR" \
        apt-get install -y -qq --no-install-recommends $APT_PACKAGES; } >>"$CACHE/debootstrap.log" 2>&1; then
        tail -n 30 "$CACHE/debootstrap.log" >&2
        say "apt-get install $APT_PACKAGES failed (full log: $CACHE/debootstrap.log)"
        exit 1
    fi
    rm -f "$DIR/usr/sbin/policy-rc.d"
    say "apt-get install $APT_PACKAGES: $(elapsed "$t") s"

    # The sandbox user and its workspace.
    chroot "$DIR" groupadd --gid "$SANDBOX_UID" sandbox
    chroot "$DIR" useradd --uid "$SANDBOX_UID" --gid "$SANDBOX_UID" --create-home \
        --home-dir /home/sandbox --shell /bin/bash sandbox
    install -d -m 0755 -o "$SANDBOX_UID" -g "$SANDBOX_UID" "$DIR/workspace"

    # Slim it down (as Debian's "-slim" images do): package caches, lists, docs, man pages,
    # translations; host files debootstrap copied in (Docker supplies its own at run time).
    rm -rf "$DIR"/var/cache/apt/archives/*.deb "$DIR"/var/cache/apt/*.bin \
        "$DIR"/var/lib/apt/lists/* "$DIR"/usr/share/man/* "$DIR"/usr/share/locale/* \
        "$DIR"/usr/share/info/* "$DIR"/var/log/*.log "$DIR"/var/log/apt/* "$DIR"/tmp/* \
        "$DIR"/root/.cache
    find "$DIR/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
    find "$DIR/usr/share/doc" -mindepth 1 -type d -empty -delete
    : >"$DIR/etc/resolv.conf"
    : >"$DIR/etc/hostname"
    if mountpoint -q "$DIR/dev" || mountpoint -q "$DIR/proc"; then
        say "something is still mounted in $DIR; not touching it"
        exit 1
    fi
    find "$DIR/dev" -mindepth 1 -delete 2>/dev/null || true

    t="$(now)"
    tar -C "$DIR" --numeric-owner -cf "$TARBALL.partial" .
    mv "$TARBALL.partial" "$TARBALL"
    say "rootfs cached: $TARBALL ($(du -m "$TARBALL" | cut -f1) MB, $(elapsed "$t") s)"
    find "$CACHE" -maxdepth 1 -name 'rootfs-*.tar' ! -name "rootfs-$KEY.tar" -delete
}

# Unmount anything debootstrap left mounted inside DIR (it bind-mounts /dev inside
# containers) before deleting it.
cleanup_dir() {
    [ -n "${DIR:-}" ] && [ -d "$DIR" ] || return 0
    awk -v d="$DIR" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/mounts | sort -r \
        | while read -r m; do umount -l "$m" 2>/dev/null || true; done
    rm -rf --one-file-system "$DIR"
}

START="$(now)"
if [ "$USE_CACHE" = 1 ] && [ -f "$TARBALL" ]; then
    say "using the cached root filesystem $TARBALL"
else
    build_rootfs "$@"
fi

# --- Import -----------------------------------------------------------------------------
OLD_ID="$(image_id || true)"
t="$(now)"
docker import \
    --change 'USER sandbox' \
    --change 'WORKDIR /workspace' \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["sleep", "infinity"]' \
    --change "LABEL samokoder.content=$CONTENT" \
    --message "samokoder sandbox: debootstrap $SUITE minbase + $PACKAGES + $APT_PACKAGES" \
    - "$IMAGE" <"$TARBALL" >/dev/null
say "docker import: $(elapsed "$t") s; total: $(elapsed "$START") s"
NEW_ID="$(image_id)"
if [ -n "$OLD_ID" ] && [ "$OLD_ID" != "$NEW_ID" ]; then
    docker image rm "$OLD_ID" >/dev/null 2>&1 || true  # still used by a container: kept
fi
report
