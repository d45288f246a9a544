# PostgreSQL from Debian's packages, for hosts with no image registry (deploy/compose.debian.yaml).
#
#   docker build --network host --build-arg BASE=samokoder-base:bookworm \
#       -f deploy/debian/postgres.Dockerfile -t samokoder-postgres:15-bookworm deploy/debian
#
# BASE: the app image's base (scripts/build_app_image.sh makes it from Debian packages), or
# debian:bookworm-slim where a registry answers. The contract deploy/compose.yaml relies on
# is the registry image's (postgres:16-bookworm): POSTGRES_USER / POSTGRES_PASSWORD /
# POSTGRES_DB create the role and database on first start, the cluster lives in
# /var/lib/postgresql/data (PGDATA), it listens on 5432 on every address with passwords
# (scram-sha-256), `pg_isready` is on PATH, stop is a fast shutdown (SIGINT). The
# difference: Debian bookworm ships PostgreSQL 15, not 16, and a data folder belongs to one
# major version: moving a volume between this image and postgres:16 needs a dump and restore.
ARG BASE=debian:bookworm-slim
FROM ${BASE}

ENV LANG=C.UTF-8 \
    PGDATA=/var/lib/postgresql/data \
    PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# No "main" cluster from the package: the entrypoint makes the one in PGDATA.
RUN install -d /etc/postgresql-common/createcluster.d \
    && echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.d/no-main-cluster.conf \
    && apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/* /var/log/apt/* /var/log/*.log \
    && test -x /usr/lib/postgresql/15/bin/postgres

COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
VOLUME /var/lib/postgresql/data
STOPSIGNAL SIGINT
EXPOSE 5432
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
