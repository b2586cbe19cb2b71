"""Liveness and readiness. Cheap: reads state, never loads a model."""

from __future__ import annotations

from tts.execution import executor
from tts.work.disk import low_space_reason, storage_report
from tts.work.status import Readiness

__all__ = ["Readiness", "health_status", "readiness"]


def health_status() -> dict:
    """Raises ConfigurationError when the server cannot take work. ``storage`` is this
    process's own disks (in celery mode the web node's: it keeps the database and files)."""
    return {**executor().health(), "storage": storage_report()}


def readiness() -> Readiness:
    state = executor().readiness()
    low = low_space_reason()
    if low is not None:
        return Readiness(False, state.default_model, low)
    return state
