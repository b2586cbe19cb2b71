"""The process-wide engine, built from Django settings, and its warm-up. Only processes that
run the models (tts.execution.local) build one: a celery-mode web process never imports torch."""

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
from tts.observability.metrics import ASR_SECONDS, LISTEN_SECONDS

if TYPE_CHECKING:  # torch comes with the engine: never imported by a celery-mode web process
    from tts.engine.engine import TTSEngine

logger = logging.getLogger(__name__)
STARTED_AT = time.time()


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


def get_engine() -> TTSEngine:
    """The process's engine, built once (the preload thread and the first requests race)."""
    global _engine
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

    def recognise(self, *args, **kwargs):
        with LISTEN_SECONDS.time():
            return super().recognise(*args, **kwargs)


def _build_engine() -> TTSEngine:
    from tts.engine.engine import TTSEngine  # deferred: torch and f5-tts come with it

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


def known_model(model_id: str) -> str:
    """The model id a request means (the default when empty); ModelNotFound (404) for an
    unknown one, decided from the configuration alone (no engine)."""
    return configured_model(model_id or settings.TTS_DEFAULT_MODEL).id
