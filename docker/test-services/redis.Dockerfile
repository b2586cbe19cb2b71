# Debian's redis-server, standing in for the `redis` image where Docker Hub cannot be reached
# (scripts/test_images.sh). compose.yaml gives it its command.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
RUN --mount=type=secret,id=ca \
    set -eu; ca=""; [ -s /run/secrets/ca ] && ca="-o Acquire::https::CAInfo=/run/secrets/ca"; \
    apt-get $ca update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get $ca install -y -qq --no-install-recommends \
        redis-server \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /data && chown redis:redis /data
WORKDIR /data
USER redis
EXPOSE 6379
CMD ["redis-server", "--protected-mode", "no"]
