"""`celery -A config` finds the application here; it lives with the executor that uses it
(tts/execution/celery_app.py)."""

from tts.execution.celery_app import app

__all__ = ["app"]
