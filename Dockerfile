# F5-TTS server image: docs/deployment-containers.md.
#
#   DOCKER_BUILDKIT=1 docker build -t f5-tts-server:cpu .
#   DOCKER_BUILDKIT=1 docker build --build-arg TORCH_VARIANT=cu130 -t f5-tts-server:cu130 .
#   docker run -e TTS_DEMO=1 -p 8000:8000 f5-tts-server:cpu     # http://127.0.0.1:8000/api/docs/
#
# Build arguments:
#   BASE_IMAGE      Debian bookworm image both stages start from (default debian:bookworm-slim;
#                   scripts/build_base_image.sh makes one with debootstrap where Docker Hub
#                   cannot be reached)
#   TORCH_VARIANT   cpu (default), cu126, cu130 (as scripts/install.sh; the README's table
#                   says which NVIDIA driver each needs), or pypi (PyPI's build: CUDA 13.0)
#   TORCH_INDEX_URL index for torch and torchaudio (default: download.pytorch.org for the variant)
#   PYPI_INDEX_URL  index for everything else (default https://pypi.org/simple; a mirror)
#   EXTRAS          optional dependency groups of pyproject.toml (default "asr": speech
#                   recognition of references sent without ref_text; add ",s3" for S3 voices)
# Build inputs, both optional:
#   --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt
#                   extra CA bundle trusted by apt and pip (a TLS-inspecting proxy)
#   wheelhouse/     wheels in the build context that pip takes before any index (air-gapped
#                   or mirrored builds; the CPU torch wheel where PyPI's is the CUDA build)
ARG BASE_IMAGE=debian:bookworm-slim

# ---------------------------------------------------------------------------------------
FROM ${BASE_IMAGE} AS build
ENV DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1 PIP_DEFAULT_TIMEOUT=120 \
    PIP_ROOT_USER_ACTION=ignore
RUN --mount=type=secret,id=ca \
    set -eu; ca=""; [ -s /run/secrets/ca ] && ca="-o Acquire::https::CAInfo=/run/secrets/ca"; \
    apt-get $ca update -qq \
    && apt-get $ca install -y -qq --no-install-recommends python3 python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/*
ARG TORCH_VARIANT=cpu
ARG TORCH_INDEX_URL=
ARG PYPI_INDEX_URL=https://pypi.org/simple
COPY docker/build-venv.sh /usr/local/bin/build-venv
COPY scripts/pip_check.sh /usr/local/bin/pip-check
# 1. torch and torchaudio: the biggest layer, rebuilt only when the variant changes.
RUN --mount=type=secret,id=ca --mount=type=bind,source=wheelhouse,target=/wheelhouse \
    TORCH_VARIANT=$TORCH_VARIANT TORCH_INDEX_URL=$TORCH_INDEX_URL \
    PYPI_INDEX_URL=$PYPI_INDEX_URL build-venv torch
# 2. The dependencies: rebuilt when pyproject.toml changes, not when the code does.
ARG EXTRAS=asr
COPY pyproject.toml requirements-nodeps.txt /src/
RUN --mount=type=secret,id=ca --mount=type=bind,source=wheelhouse,target=/wheelhouse \
    mkdir -p /src/tts /src/config && touch /src/tts/__init__.py /src/config/__init__.py \
        /src/README.md \
    && TORCH_VARIANT=$TORCH_VARIANT EXTRAS=$EXTRAS PYPI_INDEX_URL=$PYPI_INDEX_URL \
       build-venv deps
# 3. torch and torchaudio must pair (tts.engine.devices, as scripts/install.sh checks).
COPY tts /src/tts
RUN cd /src && TORCH_VARIANT=$TORCH_VARIANT build-venv finish

# ---------------------------------------------------------------------------------------
FROM ${BASE_IMAGE} AS runtime
# python3: the interpreter the venv was made with; ffmpeg: decoding references and the
# libraries torchcodec loads; tini: a PID 1 that reaps ffmpeg's leftovers and forwards the
# stop signal to the server or worker alone. No compilers, no caches, no tests.
RUN --mount=type=secret,id=ca \
    set -eu; ca=""; [ -s /run/secrets/ca ] && ca="-o Acquire::https::CAInfo=/run/secrets/ca"; \
    apt-get $ca update -qq \
    && apt-get $ca install -y -qq --no-install-recommends python3 ffmpeg tini ca-certificates \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log \
    && groupadd --system --gid 10001 tts \
    && useradd --system --uid 10001 --gid tts --home-dir /home/tts --create-home \
        --shell /usr/sbin/nologin tts \
    && mkdir -p /var/lib/tts /var/lib/tts-media /models /cache \
    && chown tts:tts /var/lib/tts /var/lib/tts-media /cache
COPY --from=build /opt/venv /opt/venv
COPY manage.py /app/
COPY config /app/config
COPY tts /app/tts
COPY docker/entrypoint.sh docker/healthcheck.py /app/docker/
RUN /opt/venv/bin/python -m compileall -q /app/config /app/tts

# Declared here, not at the top of the stage: a build argument is part of the cache key of
# every RUN after it, and the layers above are the same for every variant.
ARG TORCH_VARIANT=cpu
# Configuration only through the environment (README "Configuration"); these are the
# image's defaults: listen on every interface, data in the volumes below.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=config.settings \
    HOST=0.0.0.0 \
    PORT=8000 \
    TTS_VAR_DIR=/var/lib/tts \
    MEDIA_ROOT=/var/lib/tts-media \
    HF_HOME=/cache/huggingface \
    XDG_CACHE_HOME=/cache \
    TORCH_VARIANT=${TORCH_VARIANT}
LABEL org.opencontainers.image.title="f5-tts-server" \
      org.opencontainers.image.description="Voice-cloning text-to-speech REST API (F5-TTS, E2-TTS)" \
      org.opencontainers.image.licenses="MIT"
# /var/lib/tts: the SQLite database, the generated secret key, demo models.
# /var/lib/tts-media: saved voices and job audio (MEDIA_ROOT; shared by web and workers).
# /models (weights, mounted read-only) and /cache (the Hugging Face hub cache) are mounted
# as needed; see docs/deployment-containers.md.
VOLUME ["/var/lib/tts", "/var/lib/tts-media"]
WORKDIR /app
USER tts:tts
EXPOSE 8000
# uvicorn and Celery's worker both stop gracefully on SIGTERM: running requests finish
# (uvicorn: 30 s at most), a worker finishes its task or, killed after the grace period,
# leaves its job to be taken over by another worker. Give `docker stop -t`/compose's
# stop_grace_period/Kubernetes' terminationGracePeriodSeconds more than 30 s.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=10s --start-period=120s --retries=3 \
    CMD ["python", "/app/docker/healthcheck.py"]
ENTRYPOINT ["/usr/bin/tini", "--", "/app/docker/entrypoint.sh"]
CMD ["serve"]
