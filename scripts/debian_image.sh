# Shared by the scripts that build images from Debian packages (no image registry needed):
# scripts/build_sandbox_image.sh and scripts/build_app_image.sh. Sourced, not run.
#
# The caller sets, before sourcing:
#   ROOT CACHE IMAGE   project root, cache folder (var/...), image name
#   SUITE PACKAGES     Debian suite; packages for debootstrap --include (comma-separated, may be "")
#   APT_PACKAGES       installed with apt inside the new root afterwards (space-separated, may be "")
#   RECIPE KEY_EXTRA   recipe version and anything else the root filesystem depends on
#   CONTENT            the image's samokoder.content label (what it was built from)
#   SAY                the name its messages start with
# and may define customise_rootfs DIR (users, folders: run after the packages, before slimming).
#
# It provides say/now/elapsed, image_id/image_current/report, docker_ready, cache_lock,
# resolve_sources (MIRROR, SOURCES, KEY, TARBALL), rootfs_tarball (builds or reuses
# TARBALL) and import_rootfs ARGS... (docker import TARBALL with ARGS as --change/--message).

CODENAMES='buster|bullseye|bookworm|trixie|forky|sid|oldoldstable|oldstable|stable|testing|unstable'

say() { echo "$SAY: $*" >&2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

image_id() { docker image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null; }
# An image from an older recipe or package list is rebuilt (from the rootfs cache when it
# has one) instead of being taken as current.
image_current() {
    [ "$(docker image inspect --format '{{index .Config.Labels "samokoder.content"}}' "$IMAGE" \
        2>/dev/null)" = "$CONTENT" ]
}

report() {
    local size
    size="$(docker image inspect --format '{{.Size}}' "$IMAGE")"
    say "$IMAGE: $((size / 1000000)) MB"
    image_id
}

docker_ready() {
    if ! timeout 10 docker info >/dev/null 2>&1; then
        "$ROOT/scripts/dockerd.sh"
    fi
}

# One build at a time per cache folder (fd 9 stays open for the caller's lifetime).
cache_lock() {
    mkdir -p "$CACHE"
    exec 9>"$CACHE/build.lock"
    flock 9
}

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

# Sets MIRROR, SOURCES (the image's own apt sources), KEY and TARBALL.
resolve_sources() {
    local entries updates security
    entries="$(apt_entries || true)"
    MIRROR="${SAMOKODER_DEBIAN_MIRROR:-$(awk -v re="^($CODENAMES)$" '$2 ~ re { print $1; exit }' <<<"$entries")}"
    updates="$(awk -v re="^($CODENAMES)-updates$" '$2 ~ re { print $1; exit }' <<<"$entries")"
    security="$(awk -v re="^($CODENAMES)(-security|/updates)$" '$2 ~ re { print $1; exit }' <<<"$entries")"
    if [ -z "$MIRROR" ]; then
        MIRROR=http://deb.debian.org/debian
        say "no Debian mirror found in apt's sources; using $MIRROR"
    fi
    MIRROR="${MIRROR%/}"
    SOURCES="deb $MIRROR $SUITE main"
    [ -n "$updates" ] && SOURCES+=$'\n'"deb ${updates%/} $SUITE-updates main"
    [ -n "$security" ] && SOURCES+=$'\n'"deb ${security%/} $SUITE-security main"
    KEY="$(echo "$RECIPE $SUITE $PACKAGES $APT_PACKAGES $KEY_EXTRA $SOURCES" | sha256sum | cut -c1-16)"
    TARBALL="$CACHE/rootfs-$KEY.tar"
}

# --- Root filesystem ----------------------------------------------------------------------
in_root() {  # DIR COMMAND...: run in the new root with no service starting
    local dir="$1"
    shift
    printf '#!/bin/sh\nexit 101\n' >"$dir/usr/sbin/policy-rc.d"
    chmod 755 "$dir/usr/sbin/policy-rc.d"
    local status=0
    DEBIAN_FRONTEND=noninteractive chroot "$dir" "$@" >>"$CACHE/debootstrap.log" 2>&1 || status=$?
    rm -f "$dir/usr/sbin/policy-rc.d"
    return "$status"
}

build_rootfs() {
    if [ "$(id -u)" != 0 ]; then
        say "building the root filesystem needs root (debootstrap, chown); run it with sudo"
        exit 1
    fi
    if ! command -v debootstrap >/dev/null 2>&1 || [ ! -e /usr/share/keyrings/debian-archive-keyring.gpg ]; then
        say "installing debootstrap with apt"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap debian-archive-keyring >/dev/null
    fi

    DIR="$(mktemp -d "$CACHE/rootfs.XXXXXX")"
    trap cleanup_dir EXIT
    chmod 0755 "$DIR"  # becomes the image's /: mktemp's 0700 would lock out other users

    local t
    t="$(now)"
    say "debootstrap $SUITE from $MIRROR${PACKAGES:+ (+ $PACKAGES)}"
    if ! debootstrap --variant=minbase ${PACKAGES:+--include="$PACKAGES"} "$SUITE" "$DIR" "$MIRROR" \
        >"$CACHE/debootstrap.log" 2>&1; then
        tail -n 30 "$CACHE/debootstrap.log" >&2
        say "debootstrap failed (full log: $CACHE/debootstrap.log)"
        exit 1
    fi
    say "debootstrap: $(elapsed "$t") s"

    echo "$SOURCES" >"$DIR/etc/apt/sources.list"
    if [ "$SOURCES" != "deb $MIRROR $SUITE main" ]; then
        t="$(now)"
        if in_root "$DIR" apt-get update -qq \
            && in_root "$DIR" apt-get upgrade -y -qq -o Dpkg::Options::=--force-confold; then
            say "updates ($SUITE-updates/-security): $(elapsed "$t") s"
        else
            say "could not apply updates (see $CACHE/debootstrap.log); continuing with the release packages"
        fi
    fi
    if [ -n "$APT_PACKAGES" ]; then
        t="$(now)"
        # shellcheck disable=SC2086 # a list of package names
        if ! { in_root "$DIR" apt-get update -qq \
            && in_root "$DIR" apt-get install -y -qq --no-install-recommends $APT_PACKAGES; }; then
            tail -n 30 "$CACHE/debootstrap.log" >&2
            say "apt-get install $APT_PACKAGES failed (full log: $CACHE/debootstrap.log)"
            exit 1
        fi
        say "apt-get install $APT_PACKAGES: $(elapsed "$t") s"
    fi

    if declare -F customise_rootfs >/dev/null; then
        customise_rootfs "$DIR"
    fi
    slim_rootfs "$DIR"

    t="$(now)"
    tar -C "$DIR" --numeric-owner -cf "$TARBALL.partial" .
    mv "$TARBALL.partial" "$TARBALL"
    say "rootfs cached: $TARBALL ($(du -m "$TARBALL" | cut -f1) MB, $(elapsed "$t") s)"
    find "$CACHE" -maxdepth 1 -name 'rootfs-*.tar' ! -name "rootfs-$KEY.tar" -delete
}

# As Debian's "-slim" images: package caches, lists, docs, man pages, translations; host
# files debootstrap copied in (Docker supplies its own at run time).
slim_rootfs() {
    local dir="$1"
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/cache/apt/*.bin \
        "$dir"/var/lib/apt/lists/* "$dir"/usr/share/man/* "$dir"/usr/share/locale/* \
        "$dir"/usr/share/info/* "$dir"/var/log/*.log "$dir"/var/log/apt/* "$dir"/tmp/* \
        "$dir"/root/.cache
    find "$dir/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
    find "$dir/usr/share/doc" -mindepth 1 -type d -empty -delete
    : >"$dir/etc/resolv.conf"
    : >"$dir/etc/hostname"
    if mountpoint -q "$dir/dev" || mountpoint -q "$dir/proc"; then
        say "something is still mounted in $dir; not touching it"
        exit 1
    fi
    find "$dir/dev" -mindepth 1 -delete 2>/dev/null || true
}

# Unmount anything debootstrap left mounted inside DIR (it bind-mounts /dev inside
# containers) before deleting it.
cleanup_dir() {
    [ -n "${DIR:-}" ] && [ -d "$DIR" ] || return 0
    awk -v d="$DIR" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/mounts | sort -r \
        | while read -r m; do umount -l "$m" 2>/dev/null || true; done
    rm -rf --one-file-system "$DIR"
}

# TARBALL, built unless cached ($1 = 1 to use the cache).
rootfs_tarball() {
    if [ "$1" = 1 ] && [ -f "$TARBALL" ]; then
        say "using the cached root filesystem $TARBALL"
    else
        build_rootfs
    fi
}

# docker import TARBALL as IMAGE with the given --change/--message arguments (and the
# content label); the image it replaces is removed unless a container still uses it.
import_rootfs() {
    local old new t
    old="$(image_id || true)"
    t="$(now)"
    docker import "$@" --change "LABEL samokoder.content=$CONTENT" - "$IMAGE" <"$TARBALL" >/dev/null
    say "docker import: $(elapsed "$t") s"
    new="$(image_id)"
    if [ -n "$old" ] && [ "$old" != "$new" ]; then
        docker image rm "$old" >/dev/null 2>&1 || true
    fi
}
