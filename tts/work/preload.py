"""Models loaded (and warmed up) at start: TTS_PRELOAD in the background, retried until they
are ready, and what readiness reports meanwhile."""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings

from tts.engine.errors import EngineError

from .hardware import log_device_report
from .runtime import get_engine
from .warmup import warm_model

logger = logging.getLogger(__name__)
PRELOAD_RETRY_SECONDS = 30


#: Preloaded models whose warm-up has not finished: id -> why not (None while it runs).
_warming: dict[str, str | None] = {}
#: Models that the preload thread is still trying to load.
_loading: set[str] = set()


def warming(model_id: str) -> tuple[bool, str | None]:
    """Whether ``model_id`` is still being warmed up at start, and the last failure if any."""
    if model_id not in _warming:
        return False, None
    return True, _warming.get(model_id)


def loading(model_id: str) -> bool:
    """Whether the preload thread is still trying to load ``model_id``."""
    return model_id in _loading


def forget_warming() -> None:
    """Forget the warm-ups (tests reset the engine between cases)."""
    _warming.clear()
    _loading.clear()


def preload(*, retry_seconds: float | None = None,
            models: list[str] | None = None) -> None:
    """Load the models named in TTS_PRELOAD (or ``models``) and, with TTS_WARMUP, warm each
    one with a short generation (readiness waits for it). Failures are logged, not fatal; with
    ``retry_seconds`` the failed ones are tried again (weights may arrive late, a network may
    come up) until all are ready, so readiness can recover without traffic."""
    engine = get_engine()
    log_device_report(logger)
    pending = list(settings.TTS_PRELOAD if models is None else models)
    _loading.update(pending)
    if settings.TTS_WARMUP:
        _warming.update(dict.fromkeys(pending))
    try:
        _preload_until_ready(engine, pending, retry_seconds)
    finally:
        _loading.difference_update(pending)


def _preload_until_ready(engine, pending: list[str], retry_seconds: float | None) -> None:
    while pending:
        for model_id in list(pending):
            try:
                engine.load_model(model_id)
                if settings.TTS_WARMUP:
                    warm_model(engine, model_id)
                    _warming.pop(model_id, None)
                pending.remove(model_id)
                _loading.discard(model_id)
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
    # Loading from now on, not from when the thread has imported torch: readiness asked in
    # between says "loading at start", not "loads on first use".
    _loading.update(settings.TTS_PRELOAD if models is None else models)
    thread = threading.Thread(target=preload, kwargs={"retry_seconds": retry_seconds,
                                                      "models": models},
                              name="tts-preload", daemon=True)
    thread.start()
    return thread
