"""The Celery application (TTS_EXECUTION=celery): `make worker` runs `celery -A config
worker`, and config/celery.py names this app.

Configured from Django settings (the CELERY_ names in config/settings.py, beat's schedule
included); its tasks are tts.tasks.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("tts")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["tts"])
