"""Loads models once, keeps them warm, and hands the device to one generation at a time.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

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


@dataclass(frozen=True)
class ModelStatus:
    state: str
    reason: str | None = None


@dataclass(frozen=True)
class RequiredFile:
    location: str
    env_hint: str
    what: str


class _LogWriter(io.TextIOBase):
    """File-like sink that sends upstream's ``print`` output to the log."""

    def write(self, text: str) -> int:
        if text.strip():
            logger.debug("f5-tts: %s", text.strip())
        return len(text)


class ModelManager:
    """Models of one device. Generations on the device run one at a time, whichever model:
    upstream seeds process-wide random generators per inference, so two at once would make
    each other's seeds meaningless (and on a CPU one generation already fills every core)."""

    def __init__(self, registry: ModelRegistry, config: EngineConfig):
        self.registry = registry
        self.config = config
        self._loaded: dict[str, LoadedModel] = {}
        self._vocoders: dict[str, Any] = {}
        self._load_lock = threading.Lock()  # loads are serialised: one device, no gain in parallel
        self._inference_lock = threading.Lock()
        self._failures: dict[str, tuple[str, float]] = {}  # id -> (message, when)
        self._waiting = 0
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

    def loaded(self, model_id: str) -> LoadedModel | None:
        """The warm model if it is loaded; never loads."""
        return self._loaded.get(model_id)

    def waiting(self) -> int:
        """Requests waiting for the device now."""
        return self._waiting

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

    def _required_files(self, spec: ModelSpec) -> list[RequiredFile]:
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
        for file in self._required_files(spec):
            reason = missing_reason(file.location, allow_downloads=cfg.allow_downloads,
                                    env_hint=file.env_hint, what=file.what,
                                    cache_dir=cfg.hf_cache_dir)
            if reason:
                return reason
        return None

    # --- loading ----------------------------------------------------------------------------
    def get(self, model_id: str, *, timeout: float | None = None) -> LoadedModel:
        """The warm model, loading it first if needed (thread-safe, at most once).

        With ``timeout``, waiting longer than that for another load gives EngineBusy.
        """
        loaded = self._loaded.get(model_id)
        if loaded is not None:
            return loaded
        spec = self.registry.get(model_id)
        if not self._load_lock.acquire(timeout=-1 if timeout is None else timeout):
            raise EngineBusy(f"A model is loading on this server; {model_id} will be ready "
                             "soon. Retry shortly.")
        try:
            loaded = self._loaded.get(model_id)
            if loaded is None:
                try:
                    loaded = self._load(spec)
                except EngineError as exc:
                    self._failures[model_id] = (exc.message, time.monotonic())
                    raise
                self._failures.pop(model_id, None)
                self._loaded[model_id] = loaded
        finally:
            self._load_lock.release()
        return loaded

    def _load(self, spec: ModelSpec) -> LoadedModel:
        started = time.perf_counter()
        device = self.device
        cfg = self.config
        local = [fetch(file.location, allow_downloads=cfg.allow_downloads,
                       env_hint=file.env_hint, what=file.what, cache_dir=cfg.hf_cache_dir)
                 for file in self._required_files(spec)]
        ckpt, vocab = local[0], (local[1] if spec.vocab else "")
        vocoder = self._vocoder(self._vocoder_path(spec), local[-1].parent, device)
        logger.info("loading model %s from %s on %s", spec.id, ckpt, device)
        model = _load_checkpoint(spec, ckpt, vocab, device)
        seconds = time.perf_counter() - started
        logger.info("model %s ready in %.1f s", spec.id, seconds)
        return LoadedModel(spec=spec, model=model, vocoder=vocoder, device=device,
                           load_seconds=seconds)

    def _vocoder(self, key: str, folder: Path, device: str) -> Any:
        """Vocoders are shared between all models that use the same one."""
        if key not in self._vocoders:
            from f5_tts.infer.utils_infer import load_vocoder

            _check_vocos_config(folder / "config.yaml")
            try:
                with contextlib.redirect_stdout(_LogWriter()):
                    self._vocoders[key] = load_vocoder("vocos", is_local=True,
                                                       local_path=str(folder), device=device)
            except Exception as exc:
                raise ModelLoadError(f"The Vocos vocoder in {folder} does not load: "
                                     f"{_short(exc)}. Check TTS_VOCODER_PATH.") from exc
        return self._vocoders[key]

    # --- one generation at a time on the device ---------------------------------------------
    @contextlib.contextmanager
    def reserve(self, model_id: str) -> Iterator[LoadedModel]:
        """Exclusive use of the device with ``model_id`` loaded. Up to ``max_queue`` requests
        may wait (each at most ``queue_timeout``); more are refused with EngineBusy."""
        timeout = self.config.queue_timeout
        if not self._inference_lock.acquire(blocking=False):
            with self._waiting_lock:
                if self._waiting >= self.config.max_queue:
                    raise EngineBusy(f"{self._waiting} requests are already waiting for the "
                                     "model; retry shortly.")
                self._waiting += 1
            try:
                if not self._inference_lock.acquire(timeout=timeout):
                    raise EngineBusy(f"The model stayed busy for {timeout:.0f} s; retry later.")
            finally:
                with self._waiting_lock:
                    self._waiting -= 1
        try:
            yield self.get(model_id, timeout=timeout)
        finally:
            self._inference_lock.release()


def _check_vocos_config(path: Path) -> None:
    """Vocos builds whatever ``class_path`` its config names: allow only Vocos' own classes."""
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
        paths = [config[part]["class_path"] for part in ("feature_extractor", "backbone", "head")]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise ModelLoadError(f"{path} is not a Vocos config.yaml ({_short(exc)}); check "
                             "TTS_VOCODER_PATH.") from exc
    unsafe = [name for name in paths if not str(name).startswith("vocos.")]
    if unsafe:
        raise ModelLoadError(f"{path} names classes outside the vocos package ({unsafe}); "
                             "refusing to load it.")


def _load_checkpoint(spec: ModelSpec, ckpt: Path, vocab: Path | str, device: str) -> Any:
    import torch
    from f5_tts.infer.utils_infer import load_model

    try:
        with contextlib.redirect_stdout(_LogWriter()):
            return load_model(spec.backbone_class(), spec.config, str(ckpt),
                              mel_spec_type="vocos", vocab_file=str(vocab), device=device)
    except torch.cuda.OutOfMemoryError as exc:
        free_device_memory(device)
        raise OutOfMemory(f"Out of device memory while loading {spec.id}; serve fewer models "
                          "per device or use one with more memory.") from exc
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
