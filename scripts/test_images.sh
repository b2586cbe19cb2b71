#!/usr/bin/env bash
# The container images, built and run for real (docs/deployment-containers.md). `.ci/run`
# runs this after `make test`.
#
#  1. builds the CPU image (Dockerfile) on a Debian bookworm base: debian:bookworm-slim when
#     BASE_IMAGE names it, else one made here with debootstrap (scripts/build_base_image.sh,
#     kept by tag), with the machine's CA bundle as a BuildKit secret and the machine's CPU
#     torch wheel in wheelhouse/;
#  2. demo mode: `compose up` of compose.yaml's default service, waits for the image's
#     HEALTHCHECK (readiness) to turn healthy, generates once over HTTP and decodes the
#     audio, checks every process runs as the image's non-root user and that no compiler is
#     in the image, and that `docker stop` ends it within its grace period without a SIGKILL;
#  3. the compose.yaml "scale" profile (migrate, web in celery mode, a worker, beat, Redis,
#     PostgreSQL, health-gated): Redis and PostgreSQL are images built here from Debian's
#     packages on the same base (docker/test-services/), since Docker Hub's cannot be
#     pulled; a job submitted to the web container completes on the worker container.
#
# Where no Docker daemon can run (no docker.io package and no root to install it, no daemon
# and none can be started) it prints why and exits 0: SKIPPED, never silently. Set
# TTS_REQUIRE_IMAGE_TESTS=1 to make that a failure instead.
# Knobs: BASE_IMAGE (skip debootstrap), IMAGE_TAG, NO_CACHE=1 (a cold build), KEEP=1 (leave
# the containers and volumes for a look), TORCH_INDEX_URL (the build's torch index).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
mkdir -p var 2>/dev/null || true  # (a user who cannot write here still gets the skip message)
STARTED=$(date +%s)
say() { echo ">> [images $(($(date +%s) - STARTED))s] $*"; }
skip() {
    echo ">> SKIPPED the container image tests: $*"
    if [ "${TTS_REQUIRE_IMAGE_TESTS:-0}" = "1" ]; then exit 1; fi
    exit 0
}
fail() { echo "!! image test failed: $*" >&2; exit 1; }

# --- Docker: Debian's client and daemon, docker-compose -------------------------------------
# Debian's docker client drives BuildKit itself; a newer client without the buildx plugin
# cannot build with BuildKit, so prefer Debian's when both are installed.
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null \
    && { [ ! -x /usr/bin/docker ] || ! command -v docker-compose >/dev/null \
         || { [ -z "${BASE_IMAGE:-}" ] && ! command -v debootstrap >/dev/null; }; }; then
    say "installing Debian's docker.io, docker-compose and debootstrap"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends docker.io docker-compose debootstrap >/dev/null; }; then
        skip "docker.io, docker-compose and debootstrap could not be installed with apt-get"
    fi
fi
DOCKER=${DOCKER:-}
if [ -z "$DOCKER" ]; then
    if [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker
    elif command -v docker >/dev/null; then DOCKER=$(command -v docker)
    else skip "no docker client is installed (Debian: apt-get install docker.io docker-compose)"
    fi
fi
if ! "$DOCKER" info >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ] && command -v dockerd >/dev/null; then
        say "no Docker daemon answers: starting dockerd (log: var/dockerd.log)"
        nohup dockerd >var/dockerd.log 2>&1 &
        for _ in $(seq 60); do "$DOCKER" info >/dev/null 2>&1 && break; sleep 1; done
    fi
    "$DOCKER" info >/dev/null 2>&1 || skip "no Docker daemon is reachable and none could be \
started here ($( [ "$(id -u)" -eq 0 ] && tail -n 3 var/dockerd.log 2>/dev/null | tr '\n' ' ' \
|| echo 'not root' ))"
fi
if command -v docker-compose >/dev/null; then
    COMPOSE=(docker-compose)
elif "$DOCKER" compose version >/dev/null 2>&1; then
    COMPOSE=("$DOCKER" compose)
else
    skip "neither docker-compose nor the docker compose plugin is installed"
fi
export DOCKER_BUILDKIT=1 COMPOSE_DOCKER_CLI_BUILD=1

# --- Build inputs: base image, CA bundle, wheelhouse ----------------------------------------
if [ -z "${BASE_IMAGE:-}" ]; then
    say "base image: Debian bookworm from debootstrap (scripts/build_base_image.sh)"
    BASE_IMAGE=$(DOCKER=$DOCKER bash scripts/build_base_image.sh) \
        || skip "no Debian base image could be built with debootstrap (see above)"
fi
say "base image $BASE_IMAGE"
SECRET=()
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
[ -s "$CA_BUNDLE" ] && SECRET=(--secret "id=ca,src=$CA_BUNDLE")
# The CPU torch wheel of this machine (pip's find-links), so the build need not reach
# download.pytorch.org; PyPI's Linux torch is the CUDA build.
TORCH_WHEEL="torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"
if [ ! -f "wheelhouse/$TORCH_WHEEL" ]; then
    links=$( (python3 -m pip config list 2>/dev/null || true) \
        | sed -n "s/.*find-links='\(.*\)'/\1/p" | tr ' ' '\n')
    for folder in $links /opt/wheels; do
        if [ -f "$folder/$TORCH_WHEEL" ]; then
            cp "$folder/$TORCH_WHEEL" wheelhouse/
            say "wheelhouse: $TORCH_WHEEL from $folder"
            break
        fi
    done
fi
BUILD_ARGS=(--build-arg "BASE_IMAGE=$BASE_IMAGE")
if [ -n "${TORCH_INDEX_URL:-}" ]; then
    BUILD_ARGS+=(--build-arg "TORCH_INDEX_URL=$TORCH_INDEX_URL")
elif [ -f "wheelhouse/$TORCH_WHEEL" ] \
    && ! curl -fsS -m 15 -o /dev/null https://download.pytorch.org/whl/cpu/torch/ 2>/dev/null; then
    # torch comes from the wheelhouse; torchaudio then is PyPI's, whose CUDA extension the
    # build removes (docker/build-venv.sh), as scripts/install.sh does.
    say "download.pytorch.org is unreachable: torch from the wheelhouse, the rest from PyPI"
    BUILD_ARGS+=(--build-arg "TORCH_INDEX_URL=https://pypi.org/simple")
fi
[ "${NO_CACHE:-0}" = "1" ] && BUILD_ARGS+=(--no-cache)

IMAGE=${IMAGE_TAG:-f5-tts-server:ci-cpu}
say "building $IMAGE (TORCH_VARIANT=cpu; log: var/image-build.log)"
build_started=$(date +%s)
if ! "$DOCKER" build --progress=plain "${SECRET[@]}" "${BUILD_ARGS[@]}" \
        --build-arg TORCH_VARIANT=cpu -t "$IMAGE" . >var/image-build.log 2>&1; then
    tail -40 var/image-build.log >&2
    fail "docker build (var/image-build.log)"
fi
size=$("$DOCKER" image inspect -f '{{.Size}}' "$IMAGE")
say "built $IMAGE in $(($(date +%s) - build_started)) s: $((size / 1000000)) MB"

# --- Demo mode -------------------------------------------------------------------------------
RUN_ID="ttsimg$$"
DEMO=""
cleanup() {
    status=$?
    if [ "${KEEP:-0}" = "1" ]; then
        say "KEEP=1: left compose project $RUN_ID and its volumes"
        return
    fi
    if [ -n "${COMPOSE_ENV:-}" ]; then
        env "${COMPOSE_ENV[@]}" "${COMPOSE[@]}" -p "$RUN_ID" --profile scale down -v \
            --remove-orphans >/dev/null 2>&1 || true
    fi
    exit $status
}
trap cleanup EXIT

wait_healthy() {  # container seconds
    local state=""
    for _ in $(seq "$2"); do
        state=$("$DOCKER" inspect -f '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}} restarts={{.RestartCount}}' "$1")
        case "$state" in
            "running healthy "*) return 0 ;;
            exited* | dead* | restarting* | *restarts=[1-9]*) break ;;
        esac
        sleep 1
    done
    "$DOCKER" logs --tail 40 "$1" >&2 || true
    fail "$1 is not healthy after $2 s ($state)"
}

PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
PORT=$(free_port)
WEB_PORT=$(free_port)
# compose.yaml as an operator runs it: the image built above, Redis and PostgreSQL images
# built below, throwaway secrets.
COMPOSE_ENV=(TTS_IMAGE="$IMAGE" REDIS_IMAGE=tts-local/redis:bookworm
             POSTGRES_IMAGE=tts-local/postgres:bookworm BASE_IMAGE="$BASE_IMAGE"
             POSTGRES_PASSWORD="pw$RANDOM$RANDOM" DJANGO_SECRET_KEY="$(head -c 48 /dev/urandom | base64 | tr -d '/+=\n')"
             DJANGO_ALLOWED_HOSTS=localhost,127.0.0.1 TTS_DEMO=1 HF_HUB_OFFLINE=1
             WEB_CONCURRENCY=1 TTS_PORT="$WEB_PORT")
compose() { env "${COMPOSE_ENV[@]}" "${COMPOSE[@]}" -p "$RUN_ID" --profile scale "$@"; }
compose config -q || fail "compose.yaml does not parse"

say "demo: ${COMPOSE[*]} up -d demo, the default service (waits for its HEALTHCHECK: readiness)"
env "${COMPOSE_ENV[@]}" TTS_PORT="$PORT" "${COMPOSE[@]}" -p "$RUN_ID" up -d --no-build demo \
    >var/image-compose.log 2>&1 || { cat var/image-compose.log >&2; fail "compose up demo"; }
DEMO=$(compose ps -q demo | head -1)
[ -n "$DEMO" ] || fail "no demo container"
wait_healthy "$DEMO" 240
"$PY" scripts/image_check.py generate "http://127.0.0.1:$PORT" || fail "generation in demo mode"

uids=$("$DOCKER" top "$DEMO" -eo pid,uid,args | tail -n +2)
echo "$uids" | sed 's/^/   /'
echo "$uids" | awk '$2 == 0 {found = 1} END {exit found}' || fail "a process runs as root"
[ "$("$DOCKER" exec "$DEMO" id -u)" = "10001" ] || fail "docker exec does not run as uid 10001"
compilers=$("$DOCKER" exec "$DEMO" sh -c \
    'for c in gcc cc c++ g++ clang make ld; do command -v $c || true; done')
[ -z "$compilers" ] || fail "compilers in the runtime image: $compilers"
"$DOCKER" exec "$DEMO" sh -c '! ls -d /app/tests /root/.cache/pip /home/tts/.cache/pip 2>/dev/null' \
    || fail "tests or pip caches in the runtime image"

grace=45
stop_started=$(date +%s%N)
"$DOCKER" stop -t "$grace" "$DEMO" >/dev/null
stopped_ms=$((($(date +%s%N) - stop_started) / 1000000))
code=$("$DOCKER" inspect -f '{{.State.ExitCode}}' "$DEMO")
say "demo stopped in ${stopped_ms} ms (grace ${grace} s), exit code $code"
[ "$code" != "137" ] || fail "the server ignored SIGTERM and was killed"
[ "$stopped_ms" -lt $((grace * 1000)) ] || fail "stop took the whole grace period"
"$DOCKER" logs --tail 5 "$DEMO" 2>&1 | grep -q "Finished server process" \
    || fail "no graceful shutdown in the log"

# --- Scale-out profile ------------------------------------------------------------------------
say "scale: Redis and PostgreSQL images from Debian's packages on $BASE_IMAGE"
for service in redis postgres; do
    tag="tts-local/$service:bookworm"
    "$DOCKER" build -q "${SECRET[@]}" --build-arg "BASE_IMAGE=$BASE_IMAGE" \
        -f "docker/test-services/$service.Dockerfile" -t "$tag" docker/test-services \
        >"var/image-$service.log" 2>&1 || { cat "var/image-$service.log" >&2; fail "$tag"; }
done
say "scale: ${COMPOSE[*]} --profile scale up -d web worker beat"
compose up -d --no-build web worker beat >>var/image-compose.log 2>&1 \
    || { cat var/image-compose.log >&2; compose logs --tail 30 >&2; fail "compose up"; }
container() { compose ps -q "$1" | head -1; }
WORKER=$(container worker)
wait_healthy "$WORKER" 240
wait_healthy "$(container web)" 180
[ "$("$DOCKER" inspect -f '{{.State.ExitCode}}' "$(container migrate)")" = "0" ] \
    || fail "the migrate service failed"
JOB=$("$PY" scripts/image_check.py job "http://127.0.0.1:$WEB_PORT") || {
    compose logs --tail 40 web worker >&2; fail "a job through the scale-out stack"; }
ran_on=$(compose exec -T web python manage.py shell -c \
    "from tts.models import Job; print(Job.objects.get(id='$JOB').worker)" | tail -1)
worker_host=$("$DOCKER" inspect -f '{{.Config.Hostname}}' "$WORKER")
say "job $JOB ran on worker process $ran_on (worker container $worker_host)"
[ "${ran_on%%:*}" = "$worker_host" ] || fail "the job did not run on the worker container"
compose logs beat 2>&1 | grep -q "beat: Starting" || fail "beat did not start"

stop_started=$(date +%s)
compose stop worker >/dev/null 2>&1
code=$("$DOCKER" inspect -f '{{.State.ExitCode}}' "$WORKER")
say "worker stopped in $(($(date +%s) - stop_started)) s, exit code $code"
[ "$code" != "137" ] || fail "the worker was killed instead of shutting down warm"
say "passed in $(($(date +%s) - STARTED)) s"
