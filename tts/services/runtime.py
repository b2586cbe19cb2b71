"""The process-wide engine, built from Django settings, and its warm-up."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import fields
from typing import TYPE_CHECKING

from django.conf import settings

from tts.engine.asr import Transcriber
from tts.engine.catalog import ModelSpec, configured_spec, configured_specs
from tts.engine.config import EngineConfig
from tts.engine.errors import EngineError

from .metrics import ASR_SECONDS

if TYPE_CHECKING:  # torch comes with the engine: never imported by a celery-mode web process
    from tts.engine.engine import TTSEngine

logger = logging.getLogger(__name__)
STARTED_AT = time.time()
PRELOAD_RETRY_SECONDS = 30


def engine_config() -> EngineConfig:
    """EngineConfig from Django settings: each field ``x`` is the setting ``TTS_X`` declared in
    config/options.py. Fields without a setting keep the engine's own default."""
    values = {item.name: getattr(settings, f"TTS_{item.name.upper()}")
              for item in fields(EngineConfig) if hasattr(settings, f"TTS_{item.name.upper()}")}
    return EngineConfig(**values)


def configured_models() -> list[ModelSpec]:
    """The configured models (models file, TTS_* paths), read without an engine."""
    return configured_specs(engine_config())


def configured_model(model_id: str) -> ModelSpec:
    """ModelNotFound (404) for an unknown id, decided without an engine."""
    return configured_spec(engine_config(), model_id)


_engine: TTSEngine | None = None
_engine_lock = threading.Lock()
#: Set in Celery worker processes: they run the models whatever TTS_EXECUTION says.
_worker_process = False


def mark_worker_process() -> None:
    global _worker_process
    _worker_process = True


def runs_models_here() -> bool:
    """Whether this process generates (inline mode, or a Celery worker) rather than handing
    the work to the workers (a web process in celery mode, which never imports torch)."""
    return settings.TTS_EXECUTION == "inline" or _worker_process


def get_engine() -> TTSEngine:
    """The process's engine, built once (the preload thread and the first requests race)."""
    global _engine
    if not runs_models_here():
        raise RuntimeError("a celery-mode web process holds no engine; hand the work to the "
                           "workers (tts.services.remote)")
    if _engine is None:
        with _engine_lock:
            if _engine is None:
                _engine = _build_engine()
    return _engine


class TimedTranscriber(Transcriber):
    """Speech recognition, its seconds observed in the tts_asr_seconds metric."""

    def transcribe(self, *args, **kwargs):
        with ASR_SECONDS.time():
            return super().transcribe(*args, **kwargs)


def _build_engine() -> TTSEngine:
    from tts.engine.engine import TTSEngine

    config = engine_config()
    transcriber = None
    if settings.TTS_ASR_MODEL:
        transcriber = TimedTranscriber(settings.TTS_ASR_MODEL, device=config.device,
                                  allow_downloads=config.allow_downloads,
                                  language=settings.TTS_ASR_LANGUAGE)
    return TTSEngine(config, transcriber=transcriber)


def reset_engine() -> None:
    """Forget the engine (tests change settings between cases)."""
    global _engine
    with _engine_lock:
        _engine = None
        _warming.clear()


#: Preloaded models whose warm-up has not finished: id -> why not (None while it runs).
_warming: dict[str, str | None] = {}


def warming(model_id: str) -> tuple[bool, str | None]:
    """Whether ``model_id`` is still being warmed up at start, and the last failure if any."""
    if model_id not in _warming:
        return False, None
    return True, _warming.get(model_id)


def preload(*, retry_seconds: float | None = None,
            models: list[str] | None = None) -> None:
    """Load the models named in TTS_PRELOAD (or ``models``) and, with TTS_WARMUP, warm each
    one with a short generation (readiness waits for it). Failures are logged, not fatal; with
    ``retry_seconds`` the failed ones are tried again (weights may arrive late, a network may
    come up) until all are ready, so readiness can recover without traffic."""
    from .hardware import log_device_report
    from .warmup import warm_model

    engine = get_engine()
    log_device_report(logger)
    pending = list(settings.TTS_PRELOAD if models is None else models)
    if settings.TTS_WARMUP:
        _warming.update(dict.fromkeys(pending))
    while pending:
        for model_id in list(pending):
            try:
                engine.load_model(model_id)
                if settings.TTS_WARMUP:
                    warm_model(engine, model_id)
                    _warming.pop(model_id, None)
                pending.remove(model_id)
            except EngineError as exc:
                logger.warning("preload of %s failed: %s", model_id, exc.message)
                if settings.TTS_WARMUP:
                    _warming[model_id] = exc.message
            except Exception as exc:  # a bug: keep the traceback, keep readiness honest
                logger.exception("preload of %s failed", model_id)
                if settings.TTS_WARMUP:
                    _warming[model_id] = f"{type(exc).__name__}: {exc}"
        if not pending or retry_seconds is None:
            return
        time.sleep(retry_seconds)


def start_preload(retry_seconds: float = PRELOAD_RETRY_SECONDS,
                  models: list[str] | None = None) -> threading.Thread:
    thread = threading.Thread(target=preload, kwargs={"retry_seconds": retry_seconds,
                                                      "models": models},
                              name="tts-preload", daemon=True)
    thread.start()
    return thread
