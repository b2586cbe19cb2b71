"""The engine facade: what the service layer calls. Owns the registry, the warm models, the
prepared-reference cache and speech recognition."""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Callable

from . import audio
from .asr import Transcriber
from .cache import BoundedCache
from .config import EngineConfig
from .errors import InvalidReferenceAudio, InvalidReferenceText, TranscriptionUnavailable
from .manager import ModelManager
from .reference import PreparedReference, normalize_ref_text, validate_and_clip
from .reference_store import load_reference
from .registry import ModelRegistry
from .synthesis import ProgressCallback, SynthesisParams, SynthesisResult, synthesize


class TTSEngine:
    def __init__(self, config: EngineConfig, transcriber: Transcriber | None = None):
        self.config = config
        self.registry = ModelRegistry.from_config(config)
        self.models = ModelManager(self.registry, config)
        self.transcriber = transcriber
        self.references: BoundedCache[PreparedReference] = BoundedCache(
            max_entries=config.ref_cache_entries, max_bytes=config.ref_cache_mb * 2**20,
            size_of=lambda ref: ref.nbytes)

    def prepare_reference(self, data: bytes, ref_text: str = "") -> tuple[PreparedReference, bool]:
        """Decode, validate, clip and (if needed) transcribe a reference; cached by content.

        Returns the prepared reference and whether it came from the cache.
        """
        ref_text = ref_text.strip()
        key = (hashlib.sha256(data).hexdigest(), ref_text)
        cached = self.references.get(key)
        if cached is not None:
            return cached, True
        cfg = self.config
        samples = audio.decode(data, sample_rate=audio.SAMPLE_RATE,
                               max_seconds=cfg.max_ref_upload_seconds)
        clipped, clip = validate_and_clip(
            samples, audio.SAMPLE_RATE, min_seconds=cfg.min_ref_seconds,
            max_seconds=cfg.max_ref_upload_seconds, clip_seconds=cfg.max_ref_clip_seconds)
        text, transcribed = ref_text, False
        if not text or clip.clipped:
            text, transcribed = self._transcribe(clipped, given=ref_text), True
        ref = PreparedReference(samples=clipped, sample_rate=audio.SAMPLE_RATE,
                                ref_text=normalize_ref_text(text), clip=clip,
                                transcribed=transcribed)
        self.references.put(key, ref)
        return ref, False

    # --- references persisted by the caller (saved voices) ------------------------------------
    def stored_reference(self, key: str, read: Callable[[], bytes]
                         ) -> tuple[PreparedReference, bool]:
        """A reference persisted with ``reference_store.dump_reference``: from the cache under
        ``key``, else ``read()`` and kept. The caller changes ``key`` whenever what is stored
        changes. Returns the reference and whether it came from the cache."""
        cache_key = ("stored", key)
        cached = self.references.get(cache_key)
        if cached is not None:
            return cached, True
        ref = load_reference(read())
        self.references.put(cache_key, ref)
        return ref, False

    def remember_reference(self, key: str, ref: PreparedReference) -> None:
        """Cache a reference the caller has just prepared and persisted under ``key``."""
        self.references.put(("stored", key), ref)

    def retext_reference(self, ref: PreparedReference, ref_text: str) -> PreparedReference:
        """The same prepared audio with a new transcript; an empty one is recognised (ASR)."""
        text = ref_text.strip()
        transcribed = not text
        if transcribed:
            text = self._transcribe(ref.samples, given="")
        return dataclasses.replace(ref, ref_text=normalize_ref_text(text),
                                   transcribed=transcribed)

    def _transcribe(self, samples, *, given: str) -> str:
        """Transcript for the (clipped) reference, or an error that says what to send."""
        if self.transcriber is None:
            if not given:
                raise TranscriptionUnavailable(
                    "ref_text is empty and speech recognition is not configured on this server; "
                    "send ref_text with the exact words spoken in the reference clip.")
            raise InvalidReferenceText(
                f"The reference was longer than {self.config.max_ref_clip_seconds:g} s and was "
                "cut, so ref_text no longer matches the audio; send a clip under "
                f"{self.config.max_ref_clip_seconds:g} s, or omit ref_text (needs speech "
                "recognition, TTS_ASR_MODEL).", code="ref_text_exceeds_clip")
        text = self.transcriber.transcribe(samples, audio.SAMPLE_RATE)
        if not text:
            raise InvalidReferenceAudio(
                "No speech was recognised in the reference audio; send a clearer recording "
                "or the transcript in ref_text.", code="no_speech_recognised")
        return text

    def generate(self, model_id: str, ref: PreparedReference, gen_text: str,
                 params: SynthesisParams, progress: ProgressCallback | None = None
                 ) -> SynthesisResult:
        """Wait for the model (bounded queue), then synthesise."""
        waited = time.perf_counter()
        was_loaded = self.models.is_loaded(model_id)
        with self.models.reserve(model_id) as loaded:
            load_seconds = 0.0 if was_loaded else loaded.load_seconds
            queued = max(time.perf_counter() - waited - load_seconds, 0.0)
            result = synthesize(loaded, ref, gen_text, params, progress)
        result.timings.update(queue_seconds=queued, load_seconds=load_seconds)
        return result
