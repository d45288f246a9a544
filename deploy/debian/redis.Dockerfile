# Redis from Debian's packages, for hosts with no image registry (deploy/compose.debian.yaml).
#
#   docker build --network host --build-arg BASE=samokoder-base:bookworm \
#       -f deploy/debian/redis.Dockerfile -t samokoder-redis:7-bookworm deploy/debian
#
# The contract deploy/compose.yaml relies on is the registry image's (redis:7-bookworm):
# `redis-server ARGS` as the command, data in /data (the working folder), port 6379 on every
# address with protected mode off (the network is compose's own), redis-cli on PATH, run
# as the redis user. Debian bookworm's redis-server is 7.0.
ARG BASE=debian:bookworm-slim
FROM ${BASE}

ENV LANG=C.UTF-8
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/* /var/log/apt/* /var/log/*.log \
    && install -d -o redis -g redis /data

COPY redis-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
VOLUME /data
WORKDIR /data
EXPOSE 6379
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["redis-server"]
