#!/bin/sh
# First start: a cluster in $PGDATA with the superuser $POSTGRES_USER (password
# $POSTGRES_PASSWORD) and the database $POSTGRES_DB, as the registry's postgres image makes
# it. Every start: runs the command (default `postgres`) as the postgres user.
set -eu

if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    chown postgres:postgres "$PGDATA" /var/run/postgresql
    chmod 0700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ "${1:-}" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
    : "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}"
    user="${POSTGRES_USER:-postgres}"
    db="${POSTGRES_DB:-$user}"
    pwfile="$(mktemp)"
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
    initdb --username="$user" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
        --encoding=UTF8 >/dev/null
    rm -f "$pwfile"
    echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
    echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
    if [ "$db" != postgres ]; then
        # Local socket only, while the database is made: nothing can connect meanwhile.
        pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
        psql -v ON_ERROR_STOP=1 -q --username="$user" --dbname=postgres \
            -c "CREATE DATABASE \"$db\""
        pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    fi
    echo "docker-entrypoint.sh: made the cluster in $PGDATA (user $user, database $db)"
elif [ "${1:-}" = postgres ] && [ "$(cat "$PGDATA/PG_VERSION")" != 15 ]; then
    echo "docker-entrypoint.sh: $PGDATA holds a PostgreSQL $(cat "$PGDATA/PG_VERSION") cluster;" \
        "this image runs 15 (dump it with that version, restore it here)" >&2
    exit 1
fi

exec "$@"
