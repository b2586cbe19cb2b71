"""Loads models once, keeps them warm, and hands one to one generation at a time.

Loading is lazy, double-checked under a lock, and goes through upstream's ``load_model`` and
``load_vocoder`` so tiny test checkpoints take the same path as production weights.
"""

from __future__ import annotations

import contextlib
import io
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import EngineConfig
from .devices import free_device_memory, resolve_device
from .errors import EngineBusy, EngineError, ModelLoadError, ModelUnavailable, OutOfMemory
from .registry import ModelRegistry, ModelSpec
from .weights import fetch, missing_reason, vocoder_locations

logger = logging.getLogger(__name__)

LOADED, AVAILABLE, UNAVAILABLE = "loaded", "available", "unavailable"
#: A failed load is reported (and requests refused fast) for this long, then tried again:
#: a download that failed once may work a minute later.
FAILED_LOAD_MEMORY_SECONDS = 60


@dataclass
class LoadedModel:
    spec: ModelSpec
    model: Any  # f5_tts.model.CFM
    vocoder: Any
    device: str
    load_seconds: float
    #: One inference at a time per instance: upstream seeds process-wide RNGs per call.
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True)
class ModelStatus:
    state: str
    reason: str | None = None


class _LogWriter(io.TextIOBase):
    """File-like sink that sends upstream's ``print`` output to the log."""

    def write(self, text: str) -> int:
        if text.strip():
            logger.debug("f5-tts: %s", text.strip())
        return len(text)


class ModelManager:
    def __init__(self, registry: ModelRegistry, config: EngineConfig):
        self.registry = registry
        self.config = config
        self._loaded: dict[str, LoadedModel] = {}
        self._vocoders: dict[str, Any] = {}
        self._load_lock = threading.Lock()  # loads are serialised: one device, no gain in parallel
        self._failures: dict[str, tuple[str, float]] = {}  # id -> (message, when)
        self._waiting: dict[str, int] = {}
        self._waiting_lock = threading.Lock()
        self._device: str | None = None

    # --- inspection (never loads, never downloads) ------------------------------------------
    @property
    def device(self) -> str:
        if self._device is None:
            self._device = resolve_device(self.config.device)
        return self._device

    def loaded_ids(self) -> list[str]:
        return list(self._loaded)

    def is_loaded(self, model_id: str) -> bool:
        return model_id in self._loaded

    def waiting(self) -> int:
        with self._waiting_lock:
            return sum(self._waiting.values())

    def status(self, model_id: str) -> ModelStatus:
        spec = self.registry.get(model_id)
        if model_id in self._loaded:
            return ModelStatus(LOADED)
        reason = self._missing(spec) or self._recent_failure(model_id)
        return ModelStatus(UNAVAILABLE, reason) if reason else ModelStatus(AVAILABLE)

    def _recent_failure(self, model_id: str) -> str | None:
        message, when = self._failures.get(model_id, (None, 0.0))
        if message and time.monotonic() - when < FAILED_LOAD_MEMORY_SECONDS:
            return message
        return None

    def _missing(self, spec: ModelSpec) -> str | None:
        cfg = self.config
        checks = [(spec.checkpoint, spec.env_hint, f"{spec.id} checkpoint")]
        if spec.vocab:
            checks.append((spec.vocab, spec.env_hint.replace("CKPT", "VOCAB"), f"{spec.id} vocab"))
        for location in vocoder_locations(spec.vocoder or cfg.vocoder_path):
            checks.append((location, "TTS_VOCODER_PATH", "Vocos vocoder"))
        for location, hint, what in checks:
            reason = missing_reason(location, allow_downloads=cfg.allow_downloads, env_hint=hint,
                                    what=what, cache_dir=cfg.hf_cache_dir)
            if reason:
                return reason
        return None

    # --- loading ----------------------------------------------------------------------------
    def get(self, model_id: str) -> LoadedModel:
        """The warm model, loading it first if needed (thread-safe, at most once)."""
        loaded = self._loaded.get(model_id)
        if loaded is not None:
            return loaded
        spec = self.registry.get(model_id)
        with self._load_lock:
            loaded = self._loaded.get(model_id)
            if loaded is None:
                try:
                    loaded = self._load(spec)
                except EngineError as exc:
                    self._failures[model_id] = (exc.message, time.monotonic())
                    raise
                self._failures.pop(model_id, None)
                self._loaded[model_id] = loaded
        return loaded

    def unload(self, model_id: str) -> None:
        with self._load_lock:
            loaded = self._loaded.pop(model_id, None)
        if loaded is not None:
            free_device_memory(loaded.device)

    def _fetch(self, location: str, hint: str, what: str) -> Path:
        cfg = self.config
        return fetch(location, allow_downloads=cfg.allow_downloads, env_hint=hint, what=what,
                     cache_dir=cfg.hf_cache_dir)

    def _load(self, spec: ModelSpec) -> LoadedModel:
        started = time.perf_counter()
        device = self.device
        ckpt = self._fetch(spec.checkpoint, spec.env_hint, f"{spec.id} checkpoint")
        vocab = (self._fetch(spec.vocab, spec.env_hint.replace("CKPT", "VOCAB"), f"{spec.id} vocab")
                 if spec.vocab else "")
        vocoder = self._vocoder(spec.vocoder or self.config.vocoder_path, device)
        logger.info("loading model %s from %s on %s", spec.id, ckpt, device)
        model = _load_checkpoint(spec, ckpt, vocab, device)
        seconds = time.perf_counter() - started
        logger.info("model %s ready in %.1f s", spec.id, seconds)
        return LoadedModel(spec=spec, model=model, vocoder=vocoder, device=device,
                           load_seconds=seconds)

    def _vocoder(self, vocoder_path: str, device: str) -> Any:
        """Vocoders are shared between all models that use the same one."""
        key = vocoder_path or "hub"
        if key not in self._vocoders:
            files = [self._fetch(loc, "TTS_VOCODER_PATH", "Vocos vocoder")
                     for loc in vocoder_locations(vocoder_path)]
            folder = files[0].parent
            from f5_tts.infer.utils_infer import load_vocoder

            try:
                with contextlib.redirect_stdout(_LogWriter()):
                    self._vocoders[key] = load_vocoder("vocos", is_local=True,
                                                       local_path=str(folder), device=device)
            except Exception as exc:
                raise ModelLoadError(f"The Vocos vocoder in {folder} does not load: "
                                     f"{_short(exc)}. Check TTS_VOCODER_PATH.") from exc
        return self._vocoders[key]

    # --- one generation at a time per model -------------------------------------------------
    @contextlib.contextmanager
    def reserve(self, model_id: str) -> Iterator[LoadedModel]:
        """Wait (bounded) for exclusive use of a model; refuse when too many already wait."""
        with self._waiting_lock:
            if self._waiting.get(model_id, 0) >= self.config.max_queue:
                raise EngineBusy(f"Model {model_id} already has {self.config.max_queue} requests "
                                 "waiting; retry shortly.")
            self._waiting[model_id] = self._waiting.get(model_id, 0) + 1
        try:
            loaded = self.get(model_id)
            if not loaded.lock.acquire(timeout=self.config.queue_timeout):
                raise EngineBusy(f"Model {model_id} stayed busy for {self.config.queue_timeout:.0f}"
                                 " s; retry later.")
        finally:
            with self._waiting_lock:
                self._waiting[model_id] -= 1
        try:
            yield loaded
        finally:
            loaded.lock.release()


def _load_checkpoint(spec: ModelSpec, ckpt: Path, vocab: Path | str, device: str) -> Any:
    import torch
    from f5_tts.infer.utils_infer import load_model
    from f5_tts.model import DiT, UNetT

    model_cls = {"DiT": DiT, "UNetT": UNetT}[spec.architecture]
    try:
        with contextlib.redirect_stdout(_LogWriter()):
            return load_model(model_cls, spec.config, str(ckpt), mel_spec_type="vocos",
                              vocab_file=str(vocab), device=device)
    except torch.cuda.OutOfMemoryError as exc:
        free_device_memory(device)
        raise OutOfMemory(f"Out of device memory while loading {spec.id}; unload other "
                          "models or use a device with more memory.") from exc
    except FileNotFoundError as exc:
        raise ModelUnavailable(f"{spec.id}: {exc}; set {spec.env_hint}.") from exc
    except Exception as exc:
        raise ModelLoadError(
            f"{spec.id} checkpoint {ckpt.name} does not load as a {spec.architecture} with this "
            f"config and vocab: {_short(exc)}. Check the checkpoint file, the architecture "
            "config and the vocab it was trained with."
        ) from exc


def _short(exc: Exception, limit: int = 300) -> str:
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + "…"
