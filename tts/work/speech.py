"""Speech made by this process's engine: a reference and a text in, encoded audio and its
metadata out (streams: tts.work.sessions). Every path takes its place in the queue before
touching the upload. The executor (tts.execution) decides which process runs it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tts.engine import audio
from tts.engine.frontend import FrontEnd
from tts.engine.listen import ListenOptions
from tts.engine.reference import ClipInfo, PreparedReference
from tts.engine.spectrogram import render_spectrogram
from tts.engine.synthesis import Pacing, SynthesisParams, SynthesisResult
from tts.observability.events import announces_speech

from .listening import count_checks, listen_options, listening_fields, word_dicts
from .runtime import get_engine
from .scripts import (
    SpeechPart,
    is_script,
    join_results,
    part_segments,
    plan_speech,
    request_reference,
)

if TYPE_CHECKING:  # torch: only in processes that run the models
    from tts.engine.engine import Admission, TTSEngine
    from tts.engine.stream import SpeechStream

OUTPUT_FORMATS = tuple(audio.OUTPUT_FORMATS)
CONTENT_TYPES = {name: spec.content_type for name, spec in audio.OUTPUT_FORMATS.items()}
PARAMETER_NAMES = ("speed", "nfe_step", "cross_fade_duration", "remove_silence",
                   "cfg_strength", "sway_sampling_coef")


@dataclass(frozen=True)
class SpeechRequest:
    """What one generation needs, whichever process runs it."""

    gen_text: str
    options: Mapping[str, Any]
    model_id: str = ""  # empty: the server's default model
    ref_audio: bytes | None = None  # an uploaded clip, or None with a saved ``voice``
    ref_text: str = ""
    voice: str = ""
    #: The saved voices it names, resolved for its tenant when admitted (id -> Voice.serial;
    #: None: resolved here, unscoped).
    voice_keys: Mapping[str, int] | None = None
    output_format: str = "wav"
    include_spectrogram: bool = False  # whole files only
    events: bool = False  # streams only: Server-Sent Events instead of one file
    label: str = "-"  # names the request in log lines


@dataclass
class SpeechResult:
    audio: bytes
    format: str
    content_type: str
    sample_rate: int
    duration: float
    model: str
    seed: int
    ref_text: str
    ref_clip: ClipInfo
    chunks: int
    parameters: dict
    timing: dict
    spectrogram_png: bytes | None = None
    #: Where each voice speaks: voice (None for an uploaded clip), text, start, end seconds.
    segments: list[dict] = field(default_factory=list)
    #: What the model was given: the text normalised, the lexicon applied, pauses as tags.
    spoken_text: str = ""
    #: Every source word timed ({word, start, end, confidence, voice}), with timestamps.
    words: list[dict] | None = None
    #: The subtitle file (srt or vtt) as text, with captions.
    captions: str | None = None
    #: The intelligibility guard's verdict, with verify.
    verification: dict | None = None
    #: Speaker similarity to the reference ({similarity, chunks}), with similarity.
    similarity: dict | None = None
    #: The uploaded clip's report (measures, findings with advice); None for a saved voice.
    reference_report: dict | None = None


@dataclass
class StartedGeneration:
    """A generation admitted, its reference prepared and its model loaded: ready to run."""

    stream: SpeechStream
    ref: PreparedReference
    cache_hit: bool
    started: float
    prepared: float
    #: Whether the reference was uploaded with the request (its report goes in the reply).
    uploaded: bool = False

    @property
    def model(self) -> str:
        return self.stream.model_id

    def parameters(self) -> dict:
        return {name: getattr(self.stream.params, name) for name in PARAMETER_NAMES}

    def summary(self, duration: float) -> dict:
        """The reply's metadata without the audio (streams' ``done``, a job's output)."""
        stream = self.stream
        return {"model": self.model, "seed": stream.seed, "sample_rate": self.ref.sample_rate,
                "duration": duration, "chunks": stream.total_chunks,
                "ref_text": self.ref.ref_text.strip(), "parameters": self.parameters(),
                "spoken_text": self.spoken_text, "timing": self.timing(duration),
                **({"reference_report": self.ref.report}
                   if self.uploaded and self.ref.report is not None else {})}

    @property
    def spoken_text(self) -> str:
        return self.stream.spoken.spoken_text if self.stream.spoken else ""

    def timing(self, duration: float) -> dict:
        timings = self.stream.timings
        inference = timings["inference_seconds"]
        return {
            "total_seconds": round(time.perf_counter() - self.started, 4),
            "preprocess_seconds": round(self.prepared - self.started, 4),
            "reference_cached": self.cache_hit,
            "queue_seconds": round(timings["queue_seconds"], 4),
            "load_seconds": round(timings["load_seconds"], 4),
            "inference_seconds": round(inference, 4),
            "real_time_factor": round(inference / duration, 4) if duration else None,
        }


def synthesis_params(options: Mapping[str, Any]) -> SynthesisParams:
    """Engine parameters from validated request options (unknown keys ignored)."""
    names = SynthesisParams.__dataclass_fields__
    return SynthesisParams(**{key: value for key, value in options.items() if key in names})


def start_generation(*, model_id: str = "", ref_audio: bytes | None = None, ref_text: str = "",
                     voice: str = "", gen_text: str, options: Mapping[str, Any],
                     streaming: bool = False, label: str = "-",
                     voice_keys: Mapping[str, int] | None = None) -> StartedGeneration:
    """Admit (refused before decoding when the queue is full or the model unknown or
    unavailable), prepare the reference (an upload, or a saved ``voice``), load the model.
    ``model_id`` empty means the server's default model."""
    started = time.perf_counter()
    engine: TTSEngine = get_engine()
    admission: Admission = engine.admit(model_id)
    try:
        ref, cache_hit = request_reference(ref_audio=ref_audio, ref_text=ref_text, voice=voice,
                                           voice_keys=voice_keys)
    except BaseException:
        admission.release()
        raise
    prepared = time.perf_counter()
    stream = engine.open_stream(admission, ref, gen_text, synthesis_params(options),
                                streaming=streaming, label=label,
                                listen=listen_options(options))
    return StartedGeneration(stream=stream, ref=ref, cache_hit=cache_hit, started=started,
                             prepared=prepared, uploaded=not voice and ref_audio is not None)


@announces_speech
def generate_here(*, model_id: str = "", ref_audio: bytes | None = None, ref_text: str = "",
                  voice: str = "", gen_text: str, options: Mapping[str, Any],
                  output_format: str = "wav", include_spectrogram: bool = False,
                  label: str = "-", voice_keys: Mapping[str, int] | None = None
                  ) -> SpeechResult:
    """The whole file at once, by this process's engine. ``[voice-id]`` tags in ``gen_text``
    make it a multi-voice script (tts.services.scripts)."""
    if is_script(gen_text):
        return _script_generate(model_id=model_id, ref_audio=ref_audio, ref_text=ref_text,
                                voice=voice, gen_text=gen_text, options=options,
                                output_format=output_format,
                                include_spectrogram=include_spectrogram, label=label,
                                voice_keys=voice_keys)
    generation = start_generation(model_id=model_id, ref_audio=ref_audio, ref_text=ref_text,
                                  voice=voice, gen_text=gen_text, options=options, label=label,
                                  voice_keys=voice_keys)
    result = generation.stream.collect()
    encoded = audio.encode(result.samples, result.sample_rate, output_format)
    spectrogram = (render_spectrogram(result.spectrogram)
                   if include_spectrogram and result.spectrogram is not None else None)
    duration = round(result.seconds, 3)
    count_checks(generation.model, result.checks, result.similarity)
    return SpeechResult(
        audio=encoded, format=output_format, content_type=CONTENT_TYPES[output_format],
        sample_rate=result.sample_rate, duration=duration, model=generation.model,
        seed=result.seed, ref_text=generation.ref.ref_text.strip(), ref_clip=generation.ref.clip,
        chunks=result.chunks, parameters=generation.parameters(),
        timing=generation.timing(duration), spectrogram_png=spectrogram,
        segments=[{"voice": voice or None, "text": gen_text.strip(), "start": 0.0,
                   "end": duration}],
        spoken_text=generation.spoken_text,
        reference_report=generation.ref.report if generation.uploaded else None,
        **listening_fields(options, words=word_dicts(result.words, voice=voice or None)
                           if result.words is not None else None, checks=result.checks,
                           similarity=result.similarity),
    )


def _script_generate(*, model_id: str, ref_audio: bytes | None, ref_text: str, voice: str,
                     gen_text: str, options: Mapping[str, Any], output_format: str,
                     include_spectrogram: bool, label: str,
                     voice_keys: Mapping[str, int] | None) -> SpeechResult:
    """Each voice's part in turn (each takes its own place in the queue), joined end to end."""
    script = start_script(model_id=model_id, ref_audio=ref_audio, ref_text=ref_text,
                          voice=voice, gen_text=gen_text, options=options, label=label,
                          voice_keys=voice_keys)
    result, summary = script.finish([stream.collect() for stream in script.streams()])
    count_checks(script.model, result.checks, result.similarity)
    summary.update(listening_fields(options, words=summary.pop("words", None),
                                    checks=result.checks, similarity=result.similarity))
    encoded = audio.encode(result.samples, result.sample_rate, output_format)
    spectrogram = (render_spectrogram(result.spectrogram)
                   if include_spectrogram and result.spectrogram is not None else None)
    return SpeechResult(audio=encoded, format=output_format,
                        content_type=CONTENT_TYPES[output_format],
                        ref_clip=script.parts[0].ref.clip, spectrogram_png=spectrogram,
                        **summary)


@dataclass
class StartedScript:
    """A multi-voice script planned (every reference prepared): its parts are generated one
    after the other, each with its own admission."""

    model: str
    params: SynthesisParams
    parts: list[SpeechPart]
    started: float
    prepared: float
    label: str
    #: Streamed: each part's first chunk is cut short and silences are removed per chunk.
    streaming: bool = False
    #: Each part's spoken text (the front-end's reading, checked before any generation).
    spoken: list[str] = field(default_factory=list)
    #: Each part's front-end reading and chunk pacing, made once at the start (the chunk
    #: count and the streams use the same ones).
    plans: list[FrontEnd] = field(default_factory=list)
    pacings: list[Pacing] = field(default_factory=list)
    #: What the listening pass is asked for (None: nothing).
    listen: ListenOptions | None = None

    def total_chunks(self) -> int:
        engine: TTSEngine = get_engine()
        return sum(engine.chunk_count(part.ref, part.text, part.params, streaming=self.streaming,
                                      model_id=self.model, plan=self._plan(index),
                                      pacing=self._pacing(index))
                   for index, part in enumerate(self.parts))

    def streams(self, admitted: Callable[[Callable[[], SpeechStream]], SpeechStream]
                = lambda open_stream: open_stream(), first: int = 0) -> Iterator[SpeechStream]:
        """Each part's stream from part ``first`` on, opened when the previous one is done;
        ``admitted`` wraps each opening (a job waits there while the queue is full)."""
        engine: TTSEngine = get_engine()
        for index, part in enumerate(self.parts[first:], start=first):
            yield admitted(lambda part=part, index=index: engine.open_stream(
                engine.admit(self.model), part.ref, part.text, part.params,
                streaming=self.streaming, label=self.label, listen=self.listen,
                plan=self._plan(index), pacing=self._pacing(index)))

    def _plan(self, index: int) -> FrontEnd | None:
        return self.plans[index] if index < len(self.plans) else None

    def _pacing(self, index: int) -> Pacing | None:
        return self.pacings[index] if index < len(self.pacings) else None

    def finish(self, results: list[SynthesisResult]) -> tuple[SynthesisResult, dict]:
        """The parts joined, and the reply's metadata (``SpeechResult``'s fields but the
        audio, the clip and the picture)."""
        result = join_results(results)
        summary = self.summary(seed=result.seed, seconds=[r.seconds for r in results],
                               chunks=result.chunks, timings=result.timings)
        if self.listen is not None and self.listen.words:
            summary["words"] = self.words(results)
        return result, summary

    def words(self, results: list[SynthesisResult]) -> list[dict]:
        """The parts' words on the joined timeline, each naming its part's voice."""
        words, offset = [], 0.0
        for part, result in zip(self.parts, results, strict=False):
            words += word_dicts(result.words, voice=part.voice, offset=offset)
            offset += result.seconds
        return words

    def summary(self, *, seed: int, seconds: list[float], chunks: int, timings: dict) -> dict:
        """The metadata of the parts made so far, each ``seconds`` long."""
        duration = round(sum(seconds), 3)
        inference = timings.get("inference_seconds", 0.0)
        return {
            "model": self.model, "seed": seed, "sample_rate": self.parts[0].ref.sample_rate,
            "duration": duration, "chunks": chunks,
            "ref_text": self.parts[0].ref.ref_text.strip(),
            "parameters": {name: getattr(self.params, name) for name in PARAMETER_NAMES},
            "timing": {
                "total_seconds": round(time.perf_counter() - self.started, 4),
                "preprocess_seconds": round(self.prepared - self.started, 4),
                "reference_cached": all(part.reference_cached for part in self.parts),
                "queue_seconds": round(timings.get("queue_seconds", 0.0), 4),
                "load_seconds": round(timings.get("load_seconds", 0.0), 4),
                "inference_seconds": round(inference, 4),
                "real_time_factor": round(inference / duration, 4) if duration else None,
            },
            "segments": part_segments(self.parts[:len(seconds)], seconds),
            "spoken_text": " ".join(self.spoken[:len(seconds)]),
        }


def start_script(*, model_id: str = "", ref_audio: bytes | None = None, ref_text: str = "",
                 voice: str = "", gen_text: str, options: Mapping[str, Any],
                 streaming: bool = False, label: str = "-",
                 voice_keys: Mapping[str, int] | None = None) -> StartedScript:
    """Plan a ``[voice-id]`` script: an unknown model or voice is refused before any
    decoding, then every reference it needs is prepared."""
    started = time.perf_counter()
    engine: TTSEngine = get_engine()
    model_id = model_id or engine.config.default_model
    engine.model_spec(model_id)
    params = synthesis_params(options)
    parts = plan_speech(gen_text=gen_text, params=params, ref_audio=ref_audio,
                        ref_text=ref_text, voice=voice, voice_keys=voice_keys)
    plans = [engine.plan_text(model_id, part.text, part.params) for part in parts]
    pacings = [engine.pacing(model_id, part.params) for part in parts]
    listen = listen_options(options)
    engine.check_listening(listen)
    return StartedScript(model=model_id, params=params, parts=parts, started=started,
                         prepared=time.perf_counter(), label=label, streaming=streaming,
                         spoken=[plan.spoken_text for plan in plans], plans=plans,
                         pacings=pacings, listen=listen)
