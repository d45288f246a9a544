#!/usr/bin/env bash
# Make sure a Docker daemon answers, starting a local one when we can.
#
#   scripts/dockerd.sh
#
# Idempotent:
#   - `docker info` already works (DOCKER_HOST, or /var/run/docker.sock): exit 0.
#   - DOCKER_HOST points somewhere else and does not answer: exit 1 (we never start a local
#     daemon in place of a remote endpoint someone asked for).
#   - root: install docker.io with apt when dockerd/docker are missing, then start
#       dockerd --iptables=false --ip6tables=false --bridge=none --storage-driver=DRIVER
#     in the background (its own session; log var/dockerd.log, pidfile var/dockerd.pid)
#     and wait up to 60 s for `docker info`. dockerd starts its own containerd.
#   - not root and no daemon: print what to install/start, exit 1.
#
# The flags suit the VMs this project is tested on: no iptables/bridge (sandboxes run with
# --network none). DRIVER: overlay2 first, and vfs when dockerd will not start with it (e.g.
# /var/lib/docker itself on overlayfs, inside a container). vfs works anywhere but copies the
# whole image for every container: a new container of the sandbox image took ~4.5 s here
# (7-14 s while the image carried Debian's npm), against 0.3 s with overlay2.
# SAMOKODER_DOCKER_STORAGE_DRIVER: the drivers to try, in order (e.g. "vfs"). Images live
# per driver: after a switch, re-run scripts/build_sandbox_image.sh.
# SAMOKODER_DOCKER_TMPFS_MB: when set and this script starts dockerd with vfs, the daemon's
# data root is a tmpfs of at most that many MB, mounted at SAMOKODER_DOCKER_TMPFS_DIR
# (default /var/lib/samokoder-docker-tmpfs: outside any checkout, so that `make clean` or
# removing a clone never reaches a live daemon's files). A new sandbox container then costs
# ~1.5 s. It holds images and containers in memory and loses them with the machine; CI
# (.ci/run) uses it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VAR="$ROOT/var"
LOG="$VAR/dockerd.log"
PIDFILE="$VAR/dockerd.pid"
WAIT_SECONDS="${SAMOKODER_DOCKERD_WAIT:-60}"
STORAGE_DRIVERS="${SAMOKODER_DOCKER_STORAGE_DRIVER:-overlay2 vfs}"
TMPFS_MB="${SAMOKODER_DOCKER_TMPFS_MB:-}"
TMPFS_ROOT="${SAMOKODER_DOCKER_TMPFS_DIR:-/var/lib/samokoder-docker-tmpfs}"
DEFAULT_SOCK="unix:///var/run/docker.sock"
DOCKERD_ARGS=(--iptables=false --ip6tables=false --bridge=none)

say() { echo "dockerd.sh: $*" >&2; }

docker_answers() {
    command -v docker >/dev/null 2>&1 && timeout 10 docker info >/dev/null 2>&1
}

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

wait_for_daemon() {  # $1 = pid of the dockerd we are waiting for (optional)
    local deadline=$((SECONDS + WAIT_SECONDS))
    while [ "$SECONDS" -lt "$deadline" ]; do
        docker_answers && return 0
        if [ -n "${1:-}" ] && ! alive "$1"; then
            say "dockerd (pid $1) exited"
            return 1
        fi
        sleep 0.5
    done
    return 1
}

fail_with_log() {
    say "$1"
    if [ -f "$LOG" ]; then
        say "last lines of $LOG:"
        tail -n 30 "$LOG" >&2
    fi
    exit 1
}

# 1. Something already answers.
if docker_answers; then
    if [ -n "$TMPFS_MB" ]; then
        say "a Docker daemon already answers: SAMOKODER_DOCKER_TMPFS_MB applies only to one this script starts"
    fi
    exit 0
fi

# 2. An explicit endpoint that is not the local default socket: not ours to start.
if [ -n "${DOCKER_HOST:-}" ] && [ "$DOCKER_HOST" != "$DEFAULT_SOCK" ] \
    && [ "$DOCKER_HOST" != "unix:///run/docker.sock" ]; then
    say "DOCKER_HOST=$DOCKER_HOST does not answer \`docker info\`; start that daemon, or unset DOCKER_HOST to use a local one."
    exit 1
fi

# 3. Not root: say what to do.
if [ "$(id -u)" != 0 ]; then
    if [ -S /var/run/docker.sock ] && [ ! -w /var/run/docker.sock ]; then
        say "a daemon listens on /var/run/docker.sock but $(id -un) may not use it:"
        say "    sudo usermod -aG docker $(id -un)   (then log in again), or set DOCKER_HOST"
        exit 1
    fi
    cat >&2 <<EOF
dockerd.sh: no Docker daemon answers and this is not root, so none can be started here.
Either point DOCKER_HOST at a running daemon, or as root:
    sudo apt-get install docker.io
    sudo dockerd ${DOCKERD_ARGS[*]} --storage-driver=${STORAGE_DRIVERS%% *} &
(or: sudo systemctl start docker), and let this user reach /var/run/docker.sock
(e.g. sudo usermod -aG docker $(id -un), then log in again).
EOF
    exit 1
fi

mkdir -p "$VAR"

# 4. Install when missing. (The package's postinst may start a daemon through systemd;
#    if it did, we are done.)
if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
    say "installing docker.io with apt"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq docker.io >/dev/null
    if docker_answers; then
        exit 0
    fi
fi

# 5. A dockerd of ours may still be starting (a concurrent call, or a slow start).
if [ -f "$PIDFILE" ]; then
    pid="$(cat "$PIDFILE" 2>/dev/null || true)"
    if alive "$pid" && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ]; then
        say "dockerd (pid $pid) is running but not answering yet; waiting"
        wait_for_daemon "$pid" && exit 0
        fail_with_log "dockerd (pid $pid) did not answer within ${WAIT_SECONDS}s"
    fi
    rm -f "$PIDFILE"
fi

# 6. Docker's own cgroup needs: a cgroup v1 hierarchy or cgroup v2 mounted at /sys/fs/cgroup.
if [ ! -e /sys/fs/cgroup/cgroup.controllers ] && [ ! -d /sys/fs/cgroup/memory ] \
    && [ ! -d /sys/fs/cgroup/pids ]; then
    say "no cgroup filesystem under /sys/fs/cgroup; mounting cgroup2"
    mount -t cgroup2 none /sys/fs/cgroup || say "could not mount cgroup2 (dockerd may refuse to start)"
fi

# vfs on a tmpfs when asked for: prints the data root to use ("" for dockerd's default).
tmpfs_data_root() {
    [ "$1" = vfs ] && [ -n "$TMPFS_MB" ] || return 0
    mkdir -p "$TMPFS_ROOT"
    if mountpoint -q "$TMPFS_ROOT" \
        || mount -t tmpfs -o "size=${TMPFS_MB}m,mode=0711" tmpfs "$TMPFS_ROOT"; then
        echo "$TMPFS_ROOT/data"
    else
        say "could not mount a tmpfs on $TMPFS_ROOT; vfs keeps its data in dockerd's default root"
    fi
}

# 7. Start it, in its own session so it outlives this shell and `make`'s Ctrl-C. A driver
#    the machine cannot use makes dockerd exit at once; then the next one is tried.
for driver in $STORAGE_DRIVERS; do
    args=("${DOCKERD_ARGS[@]}" "--storage-driver=$driver")
    data_root="$(tmpfs_data_root "$driver")"
    [ -n "$data_root" ] && args+=("--data-root=$data_root")
    say "starting dockerd ${args[*]} (log: $LOG)"
    {
        echo
        echo "=== $(date -Is) dockerd ${args[*]}"
    } >>"$LOG"
    setsid nohup dockerd "${args[@]}" >>"$LOG" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$PIDFILE"

    if wait_for_daemon "$pid"; then
        say "dockerd is up (pid $pid, storage driver $driver)"
        exit 0
    fi
    if alive "$pid"; then
        fail_with_log "dockerd (pid $pid) did not answer \`docker info\` within ${WAIT_SECONDS}s"
    fi
    rm -f "$PIDFILE"
    say "dockerd would not run with --storage-driver=$driver"
done
fail_with_log "dockerd did not start with any of: $STORAGE_DRIVERS"
