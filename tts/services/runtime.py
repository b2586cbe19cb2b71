"""The process-wide engine, built from Django settings, and its warm-up."""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings

from tts.engine.asr import Transcriber
from tts.engine.config import EngineConfig
from tts.engine.engine import TTSEngine
from tts.engine.errors import EngineError

logger = logging.getLogger(__name__)
STARTED_AT = time.time()
PRELOAD_RETRY_SECONDS = 30


def engine_config() -> EngineConfig:
    s = settings
    return EngineConfig(
        device=s.TTS_DEVICE, vocoder_path=s.TTS_VOCODER_PATH, allow_downloads=s.TTS_ALLOW_DOWNLOADS,
        hf_cache_dir=s.TTS_HF_CACHE_DIR, f5_ckpt=s.TTS_F5_CKPT, f5_vocab=s.TTS_F5_VOCAB,
        e2_ckpt=s.TTS_E2_CKPT, e2_vocab=s.TTS_E2_VOCAB, custom_ckpt=s.TTS_CUSTOM_CKPT,
        custom_vocab=s.TTS_CUSTOM_VOCAB, custom_arch=s.TTS_CUSTOM_ARCH,
        custom_config=s.TTS_CUSTOM_CONFIG, models_file=s.TTS_MODELS_FILE,
        default_model=s.TTS_DEFAULT_MODEL, max_queue=s.TTS_MAX_QUEUE,
        queue_timeout=s.TTS_QUEUE_TIMEOUT, max_loaded_models=s.TTS_MAX_LOADED_MODELS,
        max_preparations=s.TTS_MAX_PREPARATIONS, min_ref_seconds=s.TTS_MIN_REF_SECONDS,
        max_ref_upload_seconds=s.TTS_MAX_REF_UPLOAD_SECONDS,
        ref_cache_entries=s.TTS_REF_CACHE_ENTRIES, ref_cache_mb=s.TTS_REF_CACHE_MB,
    )


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


def _build_engine() -> TTSEngine:
    config = engine_config()
    transcriber = None
    if settings.TTS_ASR_MODEL:
        transcriber = Transcriber(settings.TTS_ASR_MODEL, device=config.device,
                                  allow_downloads=config.allow_downloads,
                                  language=settings.TTS_ASR_LANGUAGE)
    return TTSEngine(config, transcriber=transcriber)


def reset_engine() -> None:
    """Forget the engine (tests change settings between cases)."""
    global _engine
    with _engine_lock:
        _engine = None


def preload(*, retry_seconds: float | None = None) -> None:
    """Load the models named in TTS_PRELOAD. Failures are logged, not fatal; with
    ``retry_seconds`` the failed ones are tried again (weights may arrive late, a network may
    come up) until all are loaded, so readiness can recover without traffic."""
    engine = get_engine()
    pending = list(settings.TTS_PRELOAD)
    while pending:
        for model_id in list(pending):
            try:
                engine.load_model(model_id)
                pending.remove(model_id)
            except EngineError as exc:
                logger.warning("preload of %s failed: %s", model_id, exc.message)
        if not pending or retry_seconds is None:
            return
        time.sleep(retry_seconds)


def start_preload(retry_seconds: float = PRELOAD_RETRY_SECONDS) -> threading.Thread:
    thread = threading.Thread(target=preload, kwargs={"retry_seconds": retry_seconds},
                              name="tts-preload", daemon=True)
    thread.start()
    return thread
