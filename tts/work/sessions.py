"""Streamed generation: pieces made by a worker thread, consumed by an async server.

The worker runs the engine's chunk stream and hands each piece over at once. At most
MAX_BUFFERED_BYTES wait for the reader: a reader that is behind slows its generation down
rather than having all of it buffered, and one that stops reading altogether is disconnected
after TTS_STREAM_SEND_TIMEOUT (tts.web.asgi). When the reader goes away, the generation stops
at the next chunk boundary and the stream counts as abandoned, not generated.
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import dataclasses
import logging
import queue as queues
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tts.engine.audio import to_pcm16
from tts.engine.errors import EngineError, GenerationCancelled
from tts.engine.pacing import PlaybackClock
from tts.engine.streaming_audio import stream_encoder
from tts.observability.connections import client_stalled
from tts.observability.events import announce_abandoned, announce_streamed

from .listening import (
    count_checks,
    joined_similarity,
    listen_options,
    listening_fields,
    word_dicts,
)
from .scripts import is_script, sum_timings
from .speech import (
    CONTENT_TYPES,
    StartedGeneration,
    StartedScript,
    start_generation,
    start_script,
)

if TYPE_CHECKING:  # torch: only in processes that run the models
    from tts.engine.stream import AudioChunk, SpeechStream

logger = logging.getLogger(__name__)

_END = object()
#: Bytes of a stream that may wait for its reader before the generation waits too.
MAX_BUFFERED_BYTES = 1 << 20
#: Audio in events is raw samples, so that the pieces concatenate to the whole.
EVENT_AUDIO_FORMAT = "pcm_s16le"


@dataclass(frozen=True)
class StreamEvent:
    """One Server-Sent Event: ``chunk`` (audio and where it sits), ``done`` (the reply's
    metadata) or ``error`` (the error, in the API's one error shape)."""

    name: str
    data: dict


class StreamFailed(Exception):
    """The generation failed after the first bytes went out; the response is cut short."""


class StreamSession:
    """Async-iterable pieces of one streamed generation: ``bytes`` of one growing audio file,
    or ``StreamEvent``s. What is known before the first piece (model, seed, chunks, sample
    rate) is set at once; ``summary()`` once the last piece is out. ``close`` (idempotent)
    cancels whatever is still running.

    Subclasses say where the pieces come from (``produce``): this process's engine, or a
    worker's through the relay (tts.execution.celery_web)."""

    def __init__(self, *, fmt: str, events: bool, model: str, seed: int, total_chunks: int,
                 sample_rate: int):
        self.format = fmt
        self.events = events
        self.content_type = "text/event-stream" if events else CONTENT_TYPES[fmt]
        self.model = model
        self.seed = seed
        self.total_chunks = total_chunks
        self.sample_rate = sample_rate
        self._context = contextvars.copy_context()  # log lines keep the request id
        self._worker: threading.Thread | None = None
        self._finished = False
        self._room = threading.Condition()
        self._buffered = 0
        self._gone = False

    def produce(self, hand_over: Callable[[Any], None]) -> None:
        """Make every piece, handing each over as soon as it exists; returns when done.
        A failure after the first piece is handed over too (an ``error`` event, or
        ``StreamFailed`` that cuts the file short)."""
        raise NotImplementedError

    def cancel(self, why: str) -> None:
        raise NotImplementedError

    def summary(self) -> dict:
        raise NotImplementedError

    def header(self) -> dict:
        """What is known before the first piece (the reply's headers)."""
        return {"format": self.format, "events": self.events, "model": self.model,
                "seed": self.seed, "total_chunks": self.total_chunks,
                "sample_rate": self.sample_rate}

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._pieces()

    async def _pieces(self) -> AsyncIterator[Any]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()

        def hand_over(item: Any) -> None:
            size = _size(item)
            with self._room:  # wait while the reader is behind (not for the end marker)
                while (size and self._buffered and not self._gone
                       and self._buffered + size > MAX_BUFFERED_BYTES):
                    self._room.wait(0.5)
                self._buffered += size
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the server's loop is gone
                self.cancel("abandoned")

        def run() -> None:
            try:
                self.produce(hand_over)
            finally:
                hand_over(_END)

        self._worker = threading.Thread(target=self._context.run, args=(run,),
                                        name="tts-stream", daemon=True)
        self._worker.start()
        try:
            while (item := await queue.get()) is not _END:
                with self._room:
                    self._buffered -= _size(item)
                    self._room.notify_all()
                if isinstance(item, BaseException):
                    raise item
                yield item
            self._finished = True
        finally:
            if not self._finished:
                self._abandon(_gone("the client disconnected"))

    def close(self) -> None:
        if not self._finished:
            self._abandon(_gone("the response was closed"))

    def _abandon(self, why: str) -> None:
        """Nobody reads any more: a producer waiting for room stops waiting, and the
        generation is cancelled."""
        with self._room:
            self._gone = True
            self._room.notify_all()
        self.cancel(why)


def _gone(otherwise: str) -> str:
    """Why a stream ends early: its client stopped reading (tts.web.asgi), or ``otherwise``."""
    return "the client stopped reading" if client_stalled() else otherwise


def _size(item: Any) -> int:
    """What a piece holds in memory while it waits: its bytes (an event's audio)."""
    if isinstance(item, bytes | bytearray):
        return len(item)
    if isinstance(item, StreamEvent):
        return len(item.data.get("audio") or "")
    return 0


class LocalStreamSession(StreamSession):
    """A stream made by this process's engine: the chunks of its engine streams, one after
    the other (one for a generation, one per part for a script), numbered and placed as one
    output. Subclasses say which streams (``streams``) and what the reply's metadata is."""

    def __init__(self, first: SpeechStream, *, started: float, model: str, total_chunks: int,
                 fmt: str, events: bool):
        super().__init__(fmt=fmt, events=events, model=model, seed=first.seed,
                         total_chunks=total_chunks, sample_rate=first.ref.sample_rate)
        #: The stream running now (a script runs one per part).
        self.stream = first
        self.started = started
        self.stopped = False
        self.stop_reason = ""
        #: Each finished stream's seconds, chunks and timings.
        self.done: list[tuple[float, int, dict]] = []
        #: Seconds from the request's start to its first audio, once there is some.
        self.first_audio_seconds: float | None = None
        #: A listener playing the chunks at real time as they are made: its underruns.
        self.playback = PlaybackClock()
        #: The request's options (what it asks of the listening pass).
        self.options: Mapping[str, Any] = {}
        #: Every word heard so far ({word, start, end, confidence, voice}), and the guard's
        #: verdicts, when asked for.
        self.words: list[dict] = []
        self.checks: list[dict] = []
        #: Each finished stream's similarity report and chunk count (with similarity).
        self.similarities: list[tuple[dict | None, int]] = []

    def voice(self) -> str | None:
        """The voice speaking the stream running now (a saved voice id; None: an upload)."""
        return None
    def streams(self) -> Iterator[SpeechStream]:
        """The engine streams to run, in turn."""
        yield self.stream

    def cancel(self, why: str) -> None:
        self.stopped = True
        self.stop_reason = why
        self.stream.cancel(why)

    def close(self) -> None:
        if self._worker is None:
            self.stream.close()  # never started: give the ticket and the model back
        else:
            super().close()

    def produce(self, hand_over: Callable[[Any], None]) -> None:
        try:
            if self.events:
                self._produce_events(hand_over)
            else:
                self._produce_audio(hand_over)
        except GenerationCancelled:
            pass  # the stream logged it
        except EngineError as exc:
            logger.warning("[%s] stream failed after %d chunks: %s", self.stream.label,
                           self.stream.done_chunks, exc.message)
            hand_over(error_event(exc) if self.events else StreamFailed(exc.message))
        except Exception as exc:
            logger.exception("[%s] stream failed", self.stream.label)
            hand_over(error_event(exc) if self.events else StreamFailed(str(exc)))
        finally:
            self.stream.close()
            if self.stopped:
                announce_abandoned(self.stop_reason)
            else:
                announce_streamed(self.summary)

    def _chunks(self) -> Iterator[AudioChunk]:
        """Every stream's chunks, numbered and placed in the whole output."""
        for stream in self.streams():
            self.stream = stream
            chunks_before = sum(chunks for _, chunks, _ in self.done)
            seconds_before = sum(seconds for seconds, _, _ in self.done)
            for chunk in stream:
                if self.first_audio_seconds is None and len(chunk.samples):
                    self.first_audio_seconds = round(time.perf_counter() - self.started, 4)
                self.playback.ready(time.perf_counter(), len(chunk.samples) / chunk.sample_rate)
                listening = chunk.listening
                if listening is not None:  # placed in the whole output, its speaker named
                    listening = dataclasses.replace(listening, shift=seconds_before,
                                                    voice=self.voice())
                yield dataclasses.replace(
                    chunk, index=chunks_before + chunk.index, total=self.total_chunks,
                    start=seconds_before + chunk.start, end=seconds_before + chunk.end,
                    listening=listening)
            self.done.append((stream.emitted_seconds, stream.total_chunks,
                              dict(stream.timings)))
            similarity = stream.voice_similarity()
            self.similarities.append((similarity, stream.total_chunks))
            count_checks(stream.model_id, stream.checks, similarity)
            self.checks += [{**check, "index": chunks_before + check["index"]}
                            for check in stream.checks]

    def _produce_audio(self, hand_over: Callable[[Any], None]) -> None:
        encoder = stream_encoder(self.format, self.sample_rate, hand_over)
        try:
            for chunk in self._chunks():
                encoder.write(chunk.samples)
        except BaseException:
            encoder.abort()
            raise
        encoder.close()

    def _produce_events(self, hand_over: Callable[[Any], None]) -> None:
        listen = listen_options(self.options)
        if listen is None or not listen.words:
            for chunk in self._chunks():
                hand_over(StreamEvent("chunk", chunk_event(chunk)))
            hand_over(StreamEvent("done", self.summary()))
            return
        # A chunk's event waits for its words, while the next chunk is generated meanwhile
        # (its own thread): listening never holds up the generation.
        for chunk in _run_ahead(self._chunks(), self.cancel):
            event = chunk_event(chunk)
            words = word_dicts(chunk.words(), voice=chunk.listening.voice)
            self.words += words
            event["words"] = words
            if chunk.listening is not None and chunk.listening.check is not None:
                event["check"] = chunk.listening.check
            hand_over(StreamEvent("chunk", event))
        hand_over(StreamEvent("done", self.summary()))

    def listening_summary(self) -> dict:
        """The listening fields of ``done``: captions and the guard's verdict (the words went
        out with their chunks)."""
        fields = listening_fields(self.options, words=self.words, checks=self.checks,
                                  similarity=joined_similarity(self.similarities))
        fields.pop("words", None)
        return fields


class SpeechStreamSession(LocalStreamSession):
    """One generation's chunks."""

    def __init__(self, generation: StartedGeneration, *, fmt: str, events: bool,
                 voice: str | None = None):
        super().__init__(generation.stream, started=generation.started, model=generation.model,
                         total_chunks=generation.stream.total_chunks, fmt=fmt, events=events)
        self.generation = generation
        self.voice_id = voice

    def summary(self) -> dict:
        """The whole reply's metadata, as the JSON reply has it (without the audio)."""
        summary = self.generation.summary(round(self.stream.emitted_seconds, 3))
        summary["timing"]["first_audio_seconds"] = self.first_audio_seconds
        summary["timing"]["underruns"] = self.playback.underruns
        summary.update(self.listening_summary())
        return summary

    def voice(self) -> str | None:
        return self.voice_id


class ScriptStreamSession(LocalStreamSession):
    """A multi-voice script: its parts' chunks one after the other. The first part is
    admitted before the reply starts; each next part takes its place in the queue when the
    previous one is done."""

    def __init__(self, script: StartedScript, *, fmt: str, events: bool):
        total_chunks = script.total_chunks()
        super().__init__(next(script.streams()), started=script.started, model=script.model,
                         total_chunks=total_chunks, fmt=fmt, events=events)
        self.script = script

    def streams(self) -> Iterator[SpeechStream]:
        yield self.stream
        rest = self.script.streams(first=1)
        while not self.stopped:  # a cancel between two parts admits no further part
            stream = next(rest, None)
            if stream is None:
                return
            yield stream

    def summary(self) -> dict:
        """The metadata of the parts made whole (all of them once the stream is done)."""
        summary = self.script.summary(
            seed=self.seed, seconds=[seconds for seconds, _, _ in self.done],
            chunks=sum(chunks for _, chunks, _ in self.done),
            timings=sum_timings([timings for _, _, timings in self.done] or [{}]))
        summary["timing"]["first_audio_seconds"] = self.first_audio_seconds
        summary["timing"]["underruns"] = self.playback.underruns
        summary.update(self.listening_summary())
        return summary

    def voice(self) -> str | None:
        return self.script.parts[min(len(self.done), len(self.script.parts) - 1)].voice


def error_event(exc: BaseException) -> StreamEvent:
    """An ``error`` event in the API's one error shape."""
    if isinstance(exc, EngineError):
        code, detail = exc.code, exc.message
    else:
        code, detail = "error", "Internal server error; see the server log."
    return StreamEvent("error", {"type": "server_error", "errors": [
        {"code": code, "detail": detail, "attr": None}]})


def chunk_event(chunk: AudioChunk) -> dict:
    return {"index": chunk.index, "total": chunk.total, "text": chunk.text,
            "start": round(chunk.start, 4), "end": round(chunk.end, 4),
            "sample_rate": chunk.sample_rate, "format": EVENT_AUDIO_FORMAT,
            "audio": base64.b64encode(to_pcm16(chunk.samples)).decode("ascii"),
            **({"similarity": chunk.similarity} if chunk.similarity is not None else {})}


def stream_here(*, model_id: str = "", ref_audio: bytes | None = None, ref_text: str = "",
                voice: str = "", gen_text: str, options: Mapping[str, Any],
                output_format: str = "wav", events: bool = False,
                label: str = "-", voice_keys: Mapping[str, int] | None = None) -> StreamSession:
    """Admit, prepare and load now, by this process's engine (errors are still ordinary
    replies); generate while the caller iterates. The reference is an upload or a saved
    ``voice``."""
    if not events:  # an audio stream has nowhere to put words or scores: only verify is kept
        options = {**{key: value for key, value in options.items()
                      if key not in ("timestamps", "captions")}, "similarity": False}
    session: LocalStreamSession
    if is_script(gen_text):
        script = start_script(model_id=model_id, ref_audio=ref_audio, ref_text=ref_text,
                              voice=voice, gen_text=gen_text, options=options, streaming=True,
                              label=label, voice_keys=voice_keys)
        session = ScriptStreamSession(script, fmt=output_format, events=events)
    else:
        generation = start_generation(model_id=model_id, ref_audio=ref_audio,
                                      ref_text=ref_text, voice=voice, gen_text=gen_text,
                                      options=options, streaming=True, label=label,
                                      voice_keys=voice_keys)
        session = SpeechStreamSession(generation, fmt=output_format, events=events,
                                      voice=voice or None)
    session.options = options
    return session


def _run_ahead(chunks: Iterator[AudioChunk], cancel: Callable[[str], None]
               ) -> Iterator[AudioChunk]:
    """``chunks``, made one ahead on a thread of their own: the next chunk is generated while
    the caller waits for this one's listening pass. Errors come through in order; a caller
    that stops early cancels the generation and waits for the thread to end."""
    handed: queues.Queue = queues.Queue(maxsize=1)
    stop = threading.Event()
    finished = object()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                handed.put(item, timeout=0.2)
                return True
            except queues.Full:
                continue
        return False

    def run() -> None:
        try:
            for chunk in chunks:
                if not put(chunk):
                    break
        except BaseException as exc:  # handed to the caller, raised there
            put(exc)
        else:
            put(finished)
        finally:
            chunks.close()

    worker = threading.Thread(target=contextvars.copy_context().run, args=(run,),
                              name="tts-stream-ahead", daemon=True)
    worker.start()
    complete = False
    try:
        while (item := handed.get()) is not finished:
            if isinstance(item, BaseException):
                complete = True  # the generation ended itself
                raise item
            yield item
        complete = True
    finally:
        if not complete:
            stop.set()
            cancel("the stream ended early")
        worker.join()
