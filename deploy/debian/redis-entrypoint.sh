#!/bin/sh
# `redis-server [CONFIG] [--option value ...]` as the redis user, in /data, with protected
# mode off unless the arguments say otherwise (as the registry's redis image builds it);
# any other command runs as given.
set -eu

case "${1:-}" in
    -*) set -- redis-server "$@" ;;
esac

if [ "${1:-}" = redis-server ]; then
    if [ "$(id -u)" = 0 ]; then
        find . ! -user redis -exec chown redis:redis '{}' +
        exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
    fi
    shift
    case "${1:-}" in
        -v | --version | -h | --help | --test-memory | --check-system) set -- redis-server "$@" ;;
        "" | -*) set -- redis-server --protected-mode no "$@" ;;
        *) config="$1"; shift; set -- redis-server "$config" --protected-mode no "$@" ;;
    esac
fi

exec "$@"
