"""What this process's engine says of itself: health, readiness of the default model, the
model list. Cheap: reads state, never loads a model. (A celery-mode web node asks its workers
instead: tts.execution.cluster.)"""

from __future__ import annotations

import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings

from tts.engine.catalog import ModelSpec

from .hardware import device_report, model_runtime, serving_device
from .preload import loading, warming
from .runtime import STARTED_AT, get_engine


@dataclass(frozen=True)
class Readiness:
    ready: bool
    default_model: str
    reason: str | None


@dataclass(frozen=True)
class ModelInfo:
    id: str
    name: str
    architecture: str
    description: str
    sample_rate: int
    license: str
    source: str
    status: str
    reason: str | None
    is_default: bool
    #: Null in celery mode while no worker serves the model.
    device: str | None
    device_name: str | None
    device_memory_mb: int | None
    precision: str | None
    weights_mb: float | None
    torch_cuda: str | None
    gpu_usable: bool
    #: Word timestamps/captions and verification: both need speech recognition.
    timestamps: bool = False
    verify: bool = False
    listening_reason: str | None = "No worker has reported whether it can listen."


def public_source(location: str) -> str:
    """A checkpoint location without credentials or query strings (tokens live there)."""
    parts = urlsplit(location)
    if parts.scheme in ("http", "https", "s3", "gs") and parts.netloc:
        host = parts.hostname or ""
        return urlunsplit((parts.scheme, host, parts.path, "", ""))
    return location


def package_versions() -> dict:
    return {"version": _version("f5-tts-server"), "f5_tts_version": _version("f5-tts")}


def uptime_seconds() -> float:
    return round(time.time() - STARTED_AT, 1)


def local_health() -> dict:
    """Raises ConfigurationError when this process cannot take work."""
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
        "uptime_seconds": uptime_seconds(),
    }


def local_readiness() -> Readiness:
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
    if loading(model_id) and not status.reason:
        return Readiness(False, model_id, f"{model_id} is loading at start (TTS_PRELOAD); "
                         "ready in a moment.")
    reason = status.reason or (f"{model_id} is not loaded yet; it loads on first use, or at "
                               "start with TTS_PRELOAD.")
    return Readiness(False, model_id, reason)


def local_models() -> list[ModelInfo]:
    engine = get_engine()
    return [_info(spec) for spec in engine.model_specs()]


def local_model(model_id: str) -> ModelInfo:
    return _info(get_engine().model_spec(model_id))


def _info(spec: ModelSpec) -> ModelInfo:
    engine = get_engine()
    status = engine.model_status(spec.id)
    return ModelInfo(
        id=spec.id, name=spec.name or spec.id, architecture=spec.architecture,
        description=spec.description, sample_rate=spec.sample_rate, license=spec.license,
        source=public_source(spec.checkpoint), status=status.state, reason=status.reason,
        is_default=spec.id == engine.config.default_model, **model_runtime(spec.id),
        **listening(engine),
    )


def listening(engine) -> dict:
    """Whether this process can listen back (timestamps, captions, verify), and why not."""
    reason = engine.listening_unavailable_reason()
    return {"timestamps": reason is None, "verify": reason is None, "listening_reason": reason}


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"
