"""The models of one device: loaded on demand outside the device's turns, kept warm, pinned
while in use, and evicted least-recently-used beyond ``max_loaded``.

Loading goes through the model's backend, that is through upstream's own ``load_model`` and
``load_vocoder``, so tiny test checkpoints take the same path as production weights.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .backends import ModelBackend, ModelFiles, backend_for, load_vocoder
from .compile_cache import CompileCache
from .config import EngineConfig
from .devices import free_device_memory, resolve_device
from .errors import EngineBusy, EngineError, ModelLoadError, ModelUnavailable, OutOfMemory
from .precision import Precision, resolve_precision
from .registry import ModelRegistry, ModelSpec
from .weights import fetch, missing_reason, vocoder_locations

logger = logging.getLogger(__name__)

LOADED, AVAILABLE, UNAVAILABLE = "loaded", "available", "unavailable"
#: Weights that could not be downloaded are reported, and requests refused fast, for this long;
#: then a download is tried again (a network may come up). Missing local files are checked
#: afresh on every request (it is cheap), so weights that arrive are used at once.
UNAVAILABLE_MEMORY_SECONDS = 60


@dataclass(frozen=True)
class ModelStatus:
    state: str
    reason: str | None = None


@dataclass(frozen=True)
class RequiredFile:
    location: str
    env_hint: str
    what: str


@dataclass
class _Loaded:
    backend: ModelBackend
    load_seconds: float
    pins: int = 0


@dataclass
class _Failure:
    error: EngineError
    when: float
    #: Checkpoint files' (mtime, size) when a load error happened: a broken file stays
    #: broken until it changes, so it is not retried on a timer.
    files: tuple | None


class ModelLease:
    """A loaded model, pinned (never evicted) until ``release``."""

    def __init__(self, pool: ModelPool, model_id: str, backend: ModelBackend, waited: float):
        self._pool = pool
        self.model_id = model_id
        self.backend = backend
        #: Seconds this request spent waiting for the model to load (0 when it was warm).
        self.load_seconds = waited
        self._released = False

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._pool._unpin(self.model_id)


class ModelPool:
    def __init__(self, registry: ModelRegistry, config: EngineConfig):
        self.registry = registry
        self.config = config
        self.max_loaded = max(config.max_loaded_models, 1)
        self._cond = threading.Condition()
        self._loaded: OrderedDict[str, _Loaded] = OrderedDict()  # least recently used first
        self._loading: set[str] = set()
        self._failures: dict[str, _Failure] = {}
        self._vocoders: dict[str, Any] = {}
        self._vocoder_lock = threading.Lock()
        self._device: str | None = None
        self._precision: Precision | None = None

    # --- inspection (never loads, never downloads) ------------------------------------------
    @property
    def device(self) -> str:
        if self._device is None:
            self._device = resolve_device(self.config.device)
        return self._device

    @property
    def precision(self) -> Precision:
        """What TTS_PRECISION means on this pool's device (every model here runs in it)."""
        if self._precision is None:
            self._precision = resolve_precision(self.config.precision, self.device)
        return self._precision

    def loaded_ids(self) -> list[str]:
        return list(self._loaded)

    def is_loaded(self, model_id: str) -> bool:
        return model_id in self._loaded

    def loaded_backend(self, model_id: str) -> ModelBackend | None:
        """The backend of a loaded model; never loads."""
        entry = self._loaded.get(model_id)
        return entry.backend if entry is not None else None

    def status(self, model_id: str) -> ModelStatus:
        spec = self.registry.get(model_id)
        if model_id in self._loaded:
            return ModelStatus(LOADED)
        failure = self._failure(spec)
        reason = self._missing(spec) or (failure.error.message if failure else None)
        return ModelStatus(UNAVAILABLE, reason) if reason else ModelStatus(AVAILABLE)

    def _failure(self, spec: ModelSpec) -> _Failure | None:
        failure = self._failures.get(spec.id)
        if failure is None:
            return None
        if failure.files is not None:  # a broken file: until it changes
            return failure if failure.files == self._file_signature(spec) else None
        if time.monotonic() - failure.when < UNAVAILABLE_MEMORY_SECONDS:
            return failure
        return None

    def _file_signature(self, spec: ModelSpec) -> tuple:
        signature = []
        for location in (spec.checkpoint, spec.vocab):
            path = Path(location).expanduser() if location else None
            stat = path.stat() if path is not None and path.exists() else None
            signature.append((stat.st_mtime_ns, stat.st_size) if stat else None)
        return tuple(signature)

    def required_files(self, spec: ModelSpec) -> list[RequiredFile]:
        files = [RequiredFile(spec.checkpoint, spec.env_hint, f"{spec.id} checkpoint")]
        if spec.vocab:
            files.append(RequiredFile(spec.vocab, spec.vocab_env_hint, f"{spec.id} vocab"))
        files += [RequiredFile(location, "TTS_VOCODER_PATH", "Vocos vocoder")
                  for location in vocoder_locations(self._vocoder_path(spec))]
        return files

    def _vocoder_path(self, spec: ModelSpec) -> str:
        return spec.vocoder or self.config.vocoder_path

    def _missing(self, spec: ModelSpec) -> str | None:
        cfg = self.config
        for file in self.required_files(spec):
            reason = missing_reason(file.location, allow_downloads=cfg.allow_downloads,
                                    env_hint=file.env_hint, what=file.what,
                                    cache_dir=cfg.hf_cache_dir)
            if reason:
                return reason
        return None

    def check_available(self, model_id: str) -> None:
        """Raise what a request for ``model_id`` would meet, without loading anything."""
        spec = self.registry.get(model_id)
        if model_id in self._loaded:
            return
        reason = self._missing(spec)
        if reason:
            raise ModelUnavailable(reason)
        failure = self._failure(spec)
        if failure is not None:
            raise failure.error

    # --- leases -------------------------------------------------------------------------------
    def acquire(self, model_id: str, *, timeout: float | None = None) -> ModelLease:
        """The model, loaded and pinned. Loads happen here, never during a device turn; a
        load of one model does not hold up requests for another. Waiting longer than
        ``timeout`` (for another request's load, or for a model to unpin so one can be
        evicted) gives EngineBusy."""
        spec = self.registry.get(model_id)
        started = time.perf_counter()
        deadline = time.monotonic() + (self.config.queue_timeout if timeout is None else timeout)
        victims: list[tuple[str, _Loaded]] = []
        waited = False
        with self._cond:
            while True:
                entry = self._loaded.get(model_id)
                if entry is not None:
                    entry.pins += 1
                    self._loaded.move_to_end(model_id)
                    return ModelLease(self, model_id, entry.backend,
                                      time.perf_counter() - started if waited else 0.0)
                reason = self._missing(spec)  # cheap and always current: never remembered
                if reason:
                    raise ModelUnavailable(reason)
                failure = self._failure(spec)
                if failure is not None:
                    raise failure.error
                if model_id not in self._loading:
                    victims = self._make_room()
                    if victims is not None:
                        self._loading.add(model_id)
                        break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise EngineBusy(self._busy_reason(model_id))
                waited = True
                self._cond.wait(remaining)
        self._unload(victims)
        try:
            backend, seconds = self._load(spec)
        except EngineError as exc:
            with self._cond:
                self._loading.discard(model_id)
                if not isinstance(exc, EngineBusy | OutOfMemory):
                    self._failures[model_id] = _Failure(
                        exc, time.monotonic(),
                        self._file_signature(spec) if isinstance(exc, ModelLoadError) else None)
                self._cond.notify_all()
            raise
        with self._cond:
            self._loading.discard(model_id)
            self._failures.pop(model_id, None)
            self._loaded[model_id] = _Loaded(backend, seconds, pins=1)
            self._cond.notify_all()
        return ModelLease(self, model_id, backend, time.perf_counter() - started)

    def _busy_reason(self, model_id: str) -> str:
        if model_id in self._loading:
            return f"{model_id} is still loading; retry shortly."
        return (f"All {self.max_loaded} loaded models are in use, so {model_id} cannot be "
                "loaded yet; retry shortly, or raise TTS_MAX_LOADED_MODELS if memory allows.")

    def _make_room(self) -> list[tuple[str, _Loaded]] | None:
        """Take least-recently-used idle models out (caller holds the lock) until one more
        fits; None when every loaded model is pinned."""
        victims = []
        while len(self._loaded) + len(self._loading) + 1 > self.max_loaded:
            idle = next((key for key, entry in self._loaded.items() if entry.pins == 0), None)
            if idle is None:
                for key, entry in victims:  # put them back: nothing is unloaded after all
                    self._loaded[key] = entry
                    self._loaded.move_to_end(key, last=False)
                return None
            victims.append((idle, self._loaded.pop(idle)))
        return victims

    def _unload(self, victims: list[tuple[str, _Loaded]]) -> None:
        for model_id, entry in victims:
            logger.info("unloading model %s (least recently used; TTS_MAX_LOADED_MODELS=%d)",
                        model_id, self.max_loaded)
            entry.backend.unload()
        if victims:
            del entry, victims[:]  # the last references: tensors go before the cache is emptied
            free_device_memory(self.device)

    def _unpin(self, model_id: str) -> None:
        with self._cond:
            entry = self._loaded.get(model_id)
            if entry is not None:
                entry.pins -= 1
            self._cond.notify_all()

    def unload(self, model_id: str) -> bool:
        """Unload an idle model now; False when it is not loaded or in use."""
        with self._cond:
            entry = self._loaded.get(model_id)
            if entry is None or entry.pins:
                return False
            victims = [(model_id, self._loaded.pop(model_id))]
        self._unload(victims)
        return True

    # --- loading ------------------------------------------------------------------------------
    def _load(self, spec: ModelSpec) -> tuple[ModelBackend, float]:
        started = time.perf_counter()
        device = self.device
        cfg = self.config
        local = [fetch(file.location, allow_downloads=cfg.allow_downloads,
                       env_hint=file.env_hint, what=file.what, cache_dir=cfg.hf_cache_dir)
                 for file in self.required_files(spec)]
        files = ModelFiles(checkpoint=local[0], vocab=local[1] if spec.vocab else None,
                           vocoder=local[-1].parent)
        vocoder = self._vocoder(self._vocoder_path(spec), files.vocoder, device)
        logger.info("loading model %s from %s on %s in %s (%s)", spec.id, files.checkpoint,
                    device, self.precision.name, self.precision.reason)
        backend = backend_for(spec, device, self.precision, compile_layers=cfg.compile,
                              compile_cache=(CompileCache(cfg.compile_cache_dir)
                                             if cfg.compile_cache_dir else None))
        backend.load(files, vocoder)
        seconds = time.perf_counter() - started
        logger.info("model %s ready in %.1f s", spec.id, seconds)
        return backend, seconds

    def _vocoder(self, key: str, folder: Path, device: str) -> Any:
        """Vocoders are shared between all models that use the same one."""
        with self._vocoder_lock:
            if key not in self._vocoders:
                self._vocoders[key] = load_vocoder(folder, device)
            return self._vocoders[key]
