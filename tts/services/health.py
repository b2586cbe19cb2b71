"""Liveness and readiness. Cheap: reads state, never loads a model."""

from __future__ import annotations

from tts.execution import executor
from tts.work.status import Readiness

__all__ = ["Readiness", "health_status", "readiness"]


def health_status() -> dict:
    """Raises ConfigurationError when the server cannot take work."""
    return executor().health()


def readiness() -> Readiness:
    return executor().readiness()
