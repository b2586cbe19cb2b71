"""The engine facade: what the service layer calls, and all it calls.

It owns the registry, the device's model pool and queue, the prepared-reference cache and
speech recognition. A request goes: ``admit`` (a place in the queue, refused before any
work) → ``prepare_reference`` (bounded, cached, single-flight) → ``open_stream`` (the model
leased, loaded if needed outside the device's turns) → iterate or ``collect``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import unicodedata
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from . import audio, voiceprint
from .asr import Transcriber
from .backends.base import Footprint
from .cache import BoundedCache
from .config import EngineConfig
from .errors import (
    AlignmentFailed,
    EngineError,
    GenerationFailed,
    InvalidReferenceAudio,
    InvalidReferenceText,
    ListeningUnavailable,
    TranscriptionUnavailable,
)
from .frontend import FrontEnd, Lexicon, load_lexicon
from .inspection import inspect_reference
from .listen import Heard, Listener, ListenOptions
from .pacing import ChunkCost
from .pool import ModelPool, ModelStatus
from .precision import describe
from .reference import PreparedReference, decode_reference_whole, normalize_ref_text
from .reference_store import load_reference
from .registry import ModelRegistry, ModelSpec
from .scheduler import DeviceQueue, Ticket
from .stream import SpeechStream
from .synthesis import Pacing, SynthesisParams, SynthesisResult, chunk_plan, plan_text
from .threads import configure_threads, lower_this_thread
from .voiceprint import SpeakerEncoder, VoiceMatch


class Admission:
    """A request's place on the device, for one model. Release it (or use ``with``) when
    the request ends; a stream opened from it releases it itself."""

    def __init__(self, ticket: Ticket, model_id: str):
        self.ticket = ticket
        self.model_id = model_id

    def release(self) -> None:
        self.ticket.release()

    def __enter__(self) -> Admission:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class TTSEngine:
    def __init__(self, config: EngineConfig, transcriber: Transcriber | None = None):
        self.config = config
        self.threads = configure_threads(config.threads, config.interop_threads)
        self.registry = ModelRegistry.from_config(config)
        self.pool = ModelPool(self.registry, config)
        self.queue = DeviceQueue(max_waiting=config.max_queue, timeout=config.queue_timeout,
                                 max_preparations=config.max_preparations)
        self.transcriber = transcriber
        #: The deployment's pronunciation lexicon (TTS_LEXICON_FILE): a bad file stops here.
        self.lexicon = load_lexicon(config.lexicon_file) if config.lexicon_file else Lexicon()
        #: Each model's measured cost of a chunk on this machine (sizes streams' chunks).
        self.chunk_costs: dict[str, ChunkCost] = {}
        self._costs_lock = threading.Lock()
        #: The listening pass (word timestamps, captions, verification): needs ASR.
        self.listener = (Listener(transcriber, lower_priority=lambda: lower_this_thread(
            config.preparation_nice)) if transcriber is not None else None)
        #: Speaker similarity (loads its network on first use).
        self.speaker = SpeakerEncoder(device=lambda: self.pool.device)
        self.references: BoundedCache[PreparedReference] = BoundedCache(
            max_entries=config.ref_cache_entries, max_bytes=config.ref_cache_mb * 2**20,
            size_of=lambda ref: ref.nbytes)
        # Preparations (ffmpeg, clipping, Whisper) run in threads of their own at a lower CPU
        # priority, so that on a small CPU they take the cores a generation leaves idle
        # rather than slowing it down (TTS_PREPARATION_NICE; bench/contention.py).
        self._preparers = ThreadPoolExecutor(
            max_workers=max(config.max_preparations, 1), thread_name_prefix="tts-prepare",
            initializer=lower_this_thread, initargs=(config.preparation_nice,))
        self._preparing: dict[tuple[str, str], Future] = {}
        self._preparing_lock = threading.Lock()

    # --- catalogue and state (cheap: never loads, never downloads) ---------------------------
    @property
    def device(self) -> str:
        return self.pool.device

    def model_specs(self) -> list[ModelSpec]:
        return list(self.registry)

    def compute_info(self) -> dict:
        """Device, precision (and why), TTS_COMPILE (the setting, and for each loaded model
        whether it was compiled and why) and torch threads: what health and the model list
        report. Every model of the device runs in the same precision."""
        try:
            numeric = describe(self.pool.device, self.pool.precision)
        except EngineError as exc:  # TTS_PRECISION not runnable here: models say so too
            numeric = {"device": self.pool.device, "precision": self.config.precision,
                       "precision_reason": exc.message, "precision_applied_as": "none"}
        threads = {"intra_op": self.threads.intra_op, "inter_op": self.threads.inter_op,
                   "usable_cpus": self.threads.usable_cpus}
        models = {}
        for model_id in self.pool.loaded_ids():
            report = getattr(self.pool.loaded_backend(model_id), "compile_report", None)
            if report is not None:
                models[model_id] = report.as_dict()
        return {**numeric, "compile": self.config.compile, "compile_models": models,
                "threads": threads}

    def model_spec(self, model_id: str) -> ModelSpec:
        """Raises ModelNotFound (naming the known ids) for an unknown id."""
        return self.registry.get(model_id)

    def model_status(self, model_id: str) -> ModelStatus:
        return self.pool.status(model_id)

    def loaded_models(self) -> list[str]:
        return self.pool.loaded_ids()

    def model_footprint(self, model_id: str) -> Footprint | None:
        """Device, precision and weight memory a loaded model actually uses; None when it is
        not loaded (never loads)."""
        backend = self.pool.loaded_backend(model_id)
        return backend.footprint() if backend is not None else None

    def queue_depth(self) -> int:
        return self.queue.waiting()

    # --- work ---------------------------------------------------------------------------------
    def admit(self, model_id: str = "") -> Admission:
        """A place in the device queue for ``model_id`` (default model when empty). Unknown or
        unavailable models and a full queue are refused here, before any decoding."""
        model_id = model_id or self.config.default_model
        self.pool.check_available(model_id)
        return Admission(self.queue.admit(), model_id)

    def load_model(self, model_id: str) -> None:
        """Load a model now (preloading) without generating."""
        self.pool.acquire(model_id).release()

    def prepare_reference(self, data: bytes, ref_text: str = "") -> tuple[PreparedReference, bool]:
        """Decode, validate, clip and (if needed) transcribe a reference; cached by content.
        Concurrent requests for the same clip share one preparation; at most
        ``max_preparations`` different ones run at once.

        Returns the prepared reference and whether it came from the cache.
        """
        key = (hashlib.sha256(data).hexdigest(), ref_text.strip())
        cached = self.references.get(key)
        if cached is not None:
            return cached, True
        with self._preparing_lock:
            future = self._preparing.get(key)
            owner = future is None
            if owner:
                future = self._preparing[key] = Future()
        if not owner:
            return future.result(), True
        try:
            with self.queue.preparing():
                ref = self._preparers.submit(self._prepare, data, key[1]).result()
            self.references.put(key, ref)
            future.set_result(ref)
            return ref, False
        except BaseException as exc:
            future.set_exception(exc)
            raise
        finally:
            with self._preparing_lock:
                self._preparing.pop(key, None)

    def _prepare(self, data: bytes, ref_text: str) -> PreparedReference:
        clipped, clip, whole = decode_reference_whole(data, self.config)
        text, transcribed = ref_text, False
        if not text or clip.clipped:
            text, transcribed = self._transcribe(clipped, given=ref_text), True
        report = voiceprint = None
        if self.config.reference_report:
            report = inspect_reference(whole, audio.SAMPLE_RATE, clip, self.speaker)
            voiceprint = self.speaker.reference(clipped, audio.SAMPLE_RATE)
        return PreparedReference(samples=clipped, sample_rate=audio.SAMPLE_RATE,
                                 ref_text=normalize_ref_text(text), clip=clip,
                                 transcribed=transcribed, voiceprint=voiceprint, report=report)

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
        """The same prepared audio with a new transcript; an empty one is recognised (ASR,
        bounded like any preparation)."""
        text = ref_text.strip()
        transcribed = not text
        if transcribed:
            with self.queue.preparing():
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

    def check_listening(self, listen: ListenOptions | None) -> None:
        """ListeningUnavailable when ``listen`` asks for anything and there is no ASR."""
        if listen is not None and listen.hears and self.listener is None:
            wanted = "verify" if listen.verify and not listen.words else "timestamps"
            raise ListeningUnavailable(
                "Word timestamps, captions and verify listen to the generated speech, and "
                "speech recognition is not configured on this server (TTS_ASR_MODEL); send "
                "the request without timestamps, captions and verify.", attr=wanted)

    def listening_unavailable_reason(self) -> str | None:
        """Why timestamps and verification cannot be had here; None when they can."""
        if self.listener is None:
            return ("No speech recognition model is configured (TTS_ASR_MODEL): timestamps, "
                    "captions and verify need one.")
        return self.listener.transcriber.unavailable_reason()

    def align(self, data: bytes, text: str, *, language: str | None = None) -> tuple[Heard, float]:
        """Time every word of ``text`` in the audio file ``data`` (any format ffmpeg reads):
        the listening pass on audio made elsewhere. Returns what was heard and the audio's
        seconds. AlignmentFailed (400) for no speech, text that the audio cannot hold, or a
        language the recogniser cannot hear."""
        if self.listener is None:
            raise ListeningUnavailable(self.listening_unavailable_reason() or "", attr="audio")
        hears = self.listener.transcriber.languages()
        if language and hears is not None and language.lower() not in hears:
            raise AlignmentFailed(
                f"The speech recognition model here hears {', '.join(hears)} only, not "
                f"{language!r}; send audio in {', '.join(hears)}, or ask the operator for a "
                "multilingual TTS_ASR_MODEL.", code="unsupported_language", attr="language")
        if hears == ("en",) and _mostly_non_latin(text):
            raise AlignmentFailed(
                "The text is not in a Latin script, and the speech recognition model here "
                "hears English only; send English text, or ask the operator for a "
                "multilingual TTS_ASR_MODEL.", code="unsupported_language", attr="text")
        samples = audio.decode(data)
        seconds = audio.seconds(samples, audio.SAMPLE_RATE)
        letters = sum(char.isalnum() for char in text)
        if letters > MAX_LETTERS_PER_SECOND * max(seconds, 0.1):
            raise AlignmentFailed(
                f"The text has {letters} letters and the audio lasts {seconds:.1f} s: more than "
                f"anyone says in that time (over {MAX_LETTERS_PER_SECOND} a second); send the "
                "text of this audio only.", code="text_too_long", attr="text")
        with self.queue.preparing():
            heard = self.listener.submit(samples, audio.SAMPLE_RATE, text).result()
        if not heard.recognised.strip():
            raise AlignmentFailed("No speech was recognised in the audio; send a recording "
                                  "of the text being spoken.", code="no_speech", attr="audio")
        return heard, seconds

    def open_stream(self, admission: Admission, ref: PreparedReference, gen_text: str,
                    params: SynthesisParams, *, streaming: bool = False,
                    label: str = "-", listen: ListenOptions | None = None,
                    plan: FrontEnd | None = None, pacing: Pacing | None = None
                    ) -> SpeechStream:
        """The generation, ready to iterate; it owns ``admission`` from here on.

        ``streaming`` paces the chunks (first audio after about a second of speech; see
        tts.engine.pacing) and removes silences per chunk. ``plan`` is ``plan_text``'s
        reading of ``gen_text`` and ``pacing`` what sizes the chunks, when the caller has
        them already (``pacing(...)``: a script counts its chunks before its parts run). The
        model is loaded here if needed.
        """
        try:
            self.check_listening(listen)
            if plan is None:
                plan = self.plan_text(admission.model_id, gen_text, params)
            texts = chunk_plan(ref, plan, params.speed, short_first=streaming,
                               pacing=pacing or self.pacing(admission.model_id, params))
            if not any(isinstance(text, str) for text in texts):
                raise GenerationFailed("gen_text produced no text to speak; send words.",
                                       attr="gen_text")
            lease = self.pool.acquire(admission.model_id)
        except BaseException:
            admission.release()
            raise
        try:
            voice = self.voice_match(ref) if listen is not None and listen.scores_voice \
                else None
        except BaseException:
            lease.release()
            admission.release()
            raise
        return SpeechStream(queue=self.queue, ticket=admission.ticket, lease=lease, ref=ref,
                            texts=texts, params=params, streaming=streaming, label=label,
                            spoken=plan, listener=self.listener, listen=listen, voice=voice,
                            cost=self.chunk_cost(admission.model_id))

    def voice_match(self, ref: PreparedReference) -> VoiceMatch:
        """The reference's voiceprint (computed once per reference, bounded like any
        preparation) and the encoder that will score the chunks."""
        if ref.voiceprint is not None:  # computed with the reference, or stored with a voice
            return VoiceMatch(self.speaker, ref.voiceprint)
        key = voiceprint.samples_key(ref.samples, ref.sample_rate)
        with self.queue.preparing():
            reference = self.speaker.reference(ref.samples, ref.sample_rate, key)
        return VoiceMatch(self.speaker, reference)

    def plan_text(self, model_id: str, gen_text: str, params: SynthesisParams) -> FrontEnd:
        """The text front-end's reading of ``gen_text`` for this model (pauses, normalisation
        unless the request or the model turns it off, the lexicon)."""
        spec = self.registry.get(model_id or self.config.default_model)
        return plan_text(gen_text, params, lexicon=self.lexicon,
                         model_normalizes=spec.normalize)

    def chunk_cost(self, model_id: str) -> ChunkCost:
        """The model's measured cost of a chunk on this machine (its streams update it)."""
        model_id = model_id or self.config.default_model
        with self._costs_lock:
            return self.chunk_costs.setdefault(model_id, ChunkCost())

    def pacing(self, model_id: str, params: SynthesisParams) -> Pacing:
        """What sizes a stream's chunks now: the model's steps and its cost measured so far
        (a snapshot: the chunks planned from it stay the same); with TTS_STREAM_PACING=fixed
        no cost, so the chunks are the same on every machine."""
        if self.config.stream_pacing == "fixed":
            return Pacing(params.nfe_step)
        return Pacing(params.nfe_step, self.chunk_cost(model_id).snapshot())

    def chunk_count(self, ref: PreparedReference, gen_text: str, params: SynthesisParams, *,
                    streaming: bool = False, model_id: str = "",
                    plan: FrontEnd | None = None, pacing: Pacing | None = None) -> int:
        """How many chunks (pauses included) ``open_stream`` cuts ``gen_text`` into, given
        the same ``plan`` and ``pacing`` (None: made now)."""
        if plan is None:
            plan = self.plan_text(model_id, gen_text, params)
        return len(chunk_plan(ref, plan, params.speed, short_first=streaming,
                              pacing=pacing or self.pacing(model_id, params)))

    def generate(self, model_id: str, ref: PreparedReference, gen_text: str,
                 params: SynthesisParams) -> SynthesisResult:
        """Admit, generate the whole file, release: for callers that hold no admission."""
        return self.open_stream(self.admit(model_id), ref, gen_text, params).collect()


#: Fast speech is ~15 letters a second; text beyond this rate cannot be in the audio.
MAX_LETTERS_PER_SECOND = 30


def _mostly_non_latin(text: str) -> bool:
    letters = [char for char in text if char.isalpha()]
    if not letters:
        return False
    latin = sum(1 for char in letters if "LATIN" in _char_name(char))
    return latin < len(letters) / 2


def _char_name(char: str) -> str:
    return unicodedata.name(char, "")
