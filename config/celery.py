"""The Celery application (TTS_EXECUTION=celery): `make worker` runs `celery -A config worker`.

Configured from Django settings (the CELERY_ names in config/settings.py). A worker consumes
the common queue and the queues of the models it serves (TTS_WORKER_MODELS), so it loads
only those; tts/worker.py loads them once per worker process.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("tts")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["tts"])
