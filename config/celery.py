"""`celery -A config` finds the Celery application here (it is defined in tts/celery_app.py,
where the executor that sends its tasks finds it too)."""

from tts.celery_app import app

__all__ = ["app"]
