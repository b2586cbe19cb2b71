"""Where work runs: the executor seam.

``executor()`` is this process's executor, chosen once from TTS_EXECUTION: ``inline`` runs
the models here (tts.execution.local), ``celery`` hands the work to Celery workers
(tts.execution.celery_web; the workers' side is tts.execution.celery_worker, whose processes
use a local executor of their own). Use cases call it and never ask which mode they are in.
"""

from __future__ import annotations

import threading

from django.conf import settings

from .base import Executor
from .celery_web import CeleryExecutor
from .local import LocalExecutor

_executor: Executor | None = None
_lock = threading.Lock()


def executor() -> Executor:
    global _executor
    if _executor is None:
        with _lock:
            if _executor is None:
                _executor = _configured()
    return _executor


def use_executor(chosen: Executor | None) -> None:
    """Make ``chosen`` this process's executor (a Celery worker process runs what it is
    handed locally; tests switch modes); None: choose again from the settings."""
    global _executor
    with _lock:
        _executor = chosen


def _configured() -> Executor:
    return CeleryExecutor() if settings.TTS_EXECUTION == "celery" else LocalExecutor()
