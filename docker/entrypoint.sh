#!/bin/sh
# The image's entry points, as the Makefile's targets (docs/deployment-containers.md):
#
#   serve    (default) migrate unless TTS_MIGRATE=0, then the HTTP server on $HOST:$PORT
#   worker   a Celery worker (TTS_EXECUTION=celery); arguments are added to celery's
#   beat     Celery beat: the periodic tasks (expired jobs), one per deployment
#   migrate  apply the database migrations and exit (run it once per upgrade)
#   manage   any manage.py command: `manage apikeys create "app"`, `manage check --deploy`
#   anything else runs as given (`bash`, `python -c ...`)
#
# Configuration comes only from the environment. TTS_DEMO=1 writes the tiny random models
# first (once per data volume). The server and the worker replace this shell (exec), so they
# get the stop signal themselves: uvicorn lets running requests finish (30 s at most), a
# Celery worker finishes the task it runs (warm shutdown); give the container a grace period
# longer than that (compose.yaml: stop_grace_period).
set -eu
cd /app
# prometheus_client's multiprocess folder (compose.yaml's web service) must exist before any
# Python process here imports the metrics, manage.py commands included.
if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
    mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
fi

demo_models() {
    if [ "${TTS_DEMO:-0}" = "1" ]; then
        python manage.py make_tiny_models --skip-existing
    fi
}
role() {  # what docker/healthcheck.py checks
    echo "$1" > /tmp/tts-role
}

command=${1:-serve}
[ $# -gt 0 ] && shift
case "$command" in
    serve)
        role serve
        demo_models
        if [ "${TTS_MIGRATE:-1}" = "1" ]; then
            python manage.py migrate --noinput
        fi
        exec python -m config.serve "$@"
        ;;
    worker)
        role worker
        demo_models
        # shellcheck disable=SC2086
        exec celery -A config worker --concurrency "${WORKER_CONCURRENCY:-1}" \
            --without-mingle --without-gossip --loglevel "${LOG_LEVEL:-INFO}" ${WORKER_ARGS:-} "$@"
        ;;
    beat)
        role beat
        exec celery -A config beat --loglevel "${LOG_LEVEL:-INFO}" \
            --schedule /tmp/celerybeat-schedule "$@"
        ;;
    migrate)
        role migrate
        demo_models
        exec python manage.py migrate --noinput "$@"
        ;;
    manage)
        role manage
        exec python manage.py "$@"
        ;;
    *)
        role other
        exec "$command" "$@"
        ;;
esac
