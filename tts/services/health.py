"""Liveness and readiness. Cheap: reads state, never loads a model."""

from __future__ import annotations

import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

from django.conf import settings

from .runtime import STARTED_AT, get_engine, runs_models_here, warming


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True)
class Readiness:
    ready: bool
    default_model: str
    reason: str | None


def package_versions() -> dict:
    return {"version": _version("f5-tts-server"), "f5_tts_version": _version("f5-tts")}


def health_status() -> dict:
    """Raises ConfigurationError when the server cannot take work. A celery-mode web process
    reports what its workers say (tts.services.cluster)."""
    if not runs_models_here():
        from . import cluster
        return cluster.health_status()
    from .hardware import device_report

    engine = get_engine()
    transcriber = engine.transcriber
    return {
        "status": "ok",
        **package_versions(),
        **device_report(),
        "compute": engine.compute_info(),
        "execution_mode": settings.TTS_EXECUTION,
        "default_model": engine.config.default_model,
        "loaded_models": engine.loaded_models(),
        "queue_depth": engine.queue_depth(),
        "asr": {"model": transcriber.model_name if transcriber else None,
                "loaded": bool(transcriber and transcriber.is_loaded)},
        "reference_cache": engine.references.stats(),
        "uptime_seconds": round(time.time() - STARTED_AT, 1),
    }


def readiness() -> Readiness:
    if not runs_models_here():
        from . import cluster
        ready, reason = cluster.readiness()
        return Readiness(ready, settings.TTS_DEFAULT_MODEL, reason)
    from .hardware import serving_device

    engine = get_engine()
    model_id = engine.config.default_model
    serving_device()  # TTS_DEVICE names a device that is not usable: ConfigurationError (503)
    if model_id in engine.loaded_models():
        busy, failure = warming(model_id)
        if not busy:
            return Readiness(True, model_id, None)
        return Readiness(False, model_id, f"{model_id} is loaded and warming up; "
                         + (f"the warm-up failed ({failure}) and will be retried."
                            if failure else "ready in a moment."))
    if model_id not in {spec.id for spec in engine.model_specs()}:
        return Readiness(False, model_id, f"TTS_DEFAULT_MODEL={model_id!r} is not a known model.")
    status = engine.model_status(model_id)
    reason = status.reason or (f"{model_id} is not loaded yet; it loads on first use or at start "
                               "with TTS_PRELOAD.")
    return Readiness(False, model_id, reason)
