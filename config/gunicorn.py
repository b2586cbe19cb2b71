"""Gunicorn settings for `make serve`.

One process holds the models (they are large); its threads serve requests and queue for the
device. Models load per worker after the fork (never in the master), in a background
thread so that health answers while they warm up.
"""

import os
from pathlib import Path

import environ

# The same .env that Django reads, so HOST, PORT and the rest can live there too.
_ENV_FILE = Path(__file__).resolve().parent.parent / ".env"
if _ENV_FILE.exists():
    environ.Env.read_env(_ENV_FILE)

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "1"))
worker_class = "gthread"
# Enough threads that the engine's own queue bound (TTS_MAX_QUEUE) answers 503 before gunicorn
# would hold connections, plus room for health checks.
threads = int(os.environ.get("GUNICORN_THREADS", int(os.environ.get("TTS_MAX_QUEUE", "8")) + 4))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "900"))  # a base model on a CPU is slow
graceful_timeout = 30
accesslog = "-"
errorlog = "-"


def post_worker_init(worker):
    from tts.services.runtime import start_preload

    start_preload()
