"""A generation as a stream of chunks: each chunk is spoken in its own turn on the device,
cross-faded into the previous one, and handed over as soon as it is ready.

The overlap tail of every chunk is held back until the next chunk arrives, so the pieces
of a stream, played back to back, are exactly the whole-file result: no clicks, no gaps.
Cancelling (or closing) the stream stops it within one denoising step and frees the device.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from .backends import ModelBackend
from .devices import free_device_memory, is_out_of_memory
from .errors import GenerationCancelled, OutOfMemory
from .frontend import FrontEnd, Pause
from .pool import ModelLease
from .reference import PreparedReference
from .scheduler import DeviceQueue, Ticket
from .synthesis import SynthesisParams, SynthesisResult, chunk_seed, remove_silences

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AudioChunk:
    index: int
    total: int
    text: str
    #: Ready to play right after the previous chunk's samples.
    samples: np.ndarray
    sample_rate: int
    #: Where these samples sit in the whole output, in seconds.
    start: float
    end: float
    mel: np.ndarray | None = None


class CrossFader:
    """Joins chunks with a linear cross-fade of ``overlap`` samples, emitting all but the
    tail that the next chunk will fade into."""

    def __init__(self, overlap: int):
        self.overlap = max(overlap, 0)
        self._tail = np.zeros(0, dtype=np.float32)
        self._started = False

    def push(self, wave: np.ndarray) -> np.ndarray:
        wave = wave.astype(np.float32, copy=False)
        if self._started:
            samples = min(len(self._tail), len(wave))
            ramp = np.linspace(0.0, 1.0, samples, dtype=np.float32)
            blended = self._tail[len(self._tail) - samples:] * (1.0 - ramp) + wave[:samples] * ramp
            joined = np.concatenate([self._tail[:len(self._tail) - samples], blended,
                                     wave[samples:]])
        else:
            joined, self._started = wave, True
        keep = min(self.overlap, len(joined))
        self._tail = joined[len(joined) - keep:]
        return joined[:len(joined) - keep]

    def flush(self) -> np.ndarray:
        tail, self._tail = self._tail, np.zeros(0, dtype=np.float32)
        return tail


class SpeechStream:
    """Iterate for chunks; ``collect`` for the whole file. Owns the request's ticket and
    model lease and gives both back when it ends, however it ends."""

    def __init__(self, *, queue: DeviceQueue, ticket: Ticket, lease: ModelLease,
                 ref: PreparedReference, texts: list[str | Pause], params: SynthesisParams,
                 streaming: bool, label: str = "-", spoken: FrontEnd | None = None):
        self._queue = queue
        self._ticket = ticket
        self._lease = lease
        self.ref = ref
        #: Chunks of spoken text, and pauses (exact silences, never cross-faded).
        self.texts = texts
        #: What the front-end made of the request's text (spoken text, map to the source).
        self.spoken = spoken
        self.params = params
        self.seed = params.resolved_seed()
        #: Whether pieces go out as they are made (silence removal then works per chunk).
        self.streaming = streaming
        self.label = label
        self.model_id = lease.model_id
        self._cancelled = threading.Event()
        self.done_chunks = 0
        #: Seconds of audio handed out so far.
        self.emitted_seconds = 0.0
        self.timings = {"queue_seconds": 0.0, "load_seconds": lease.load_seconds,
                        "inference_seconds": 0.0}

    @property
    def total_chunks(self) -> int:
        return len(self.texts)

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def cancel(self, why: str = "on request") -> None:
        """Stop within a denoising step (callable from any thread)."""
        if not self._cancelled.is_set():
            self._cancelled.set()
            logger.info("[%s] generation cancelled (%s) after %d of %d chunks; device freed",
                        self.label, why, self.done_chunks, self.total_chunks)
            self._queue.wake()

    def close(self) -> None:
        """Give the ticket and the model back (idempotent)."""
        self._lease.release()
        self._ticket.release()

    def __iter__(self) -> Iterator[AudioChunk]:
        backend: ModelBackend = self._lease.backend
        params = self.params
        chunk_params = params.chunk_params()
        overlap = int(params.cross_fade_duration * self.ref.sample_rate)
        fader = CrossFader(overlap)
        prepared = backend.prepare(self.ref)
        emitted, spoken_chunks = 0, 0
        try:
            for index, text in enumerate(self.texts):
                if self.cancelled:
                    raise GenerationCancelled("The generation was cancelled.")
                rate = self.ref.sample_rate
                if isinstance(text, Pause):  # silence as it is; the next chunk starts afresh
                    fader = CrossFader(overlap)
                    samples = np.zeros(text.samples(rate), dtype=np.float32)
                    self.done_chunks = index + 1
                    yield AudioChunk(index=index, total=len(self.texts), text=text.tag,
                                     samples=samples, sample_rate=rate, start=emitted / rate,
                                     end=(emitted + len(samples)) / rate)
                    emitted += len(samples)
                    self.emitted_seconds = emitted / rate
                    continue
                with self._queue.turn(lambda: self.cancelled) as waited:
                    self.timings["queue_seconds"] += waited
                    started = time.perf_counter()
                    chunk = self._synthesize(backend, prepared, text, chunk_params,
                                             spoken_chunks)
                    self.timings["inference_seconds"] += time.perf_counter() - started
                spoken_chunks += 1
                self.done_chunks = index + 1
                samples = fader.push(chunk.samples)
                if index == len(self.texts) - 1 or isinstance(self.texts[index + 1], Pause):
                    samples = np.concatenate([samples, fader.flush()])  # no fade across
                if self.streaming and params.remove_silence:
                    samples = remove_silences(samples, chunk.sample_rate)
                rate = chunk.sample_rate
                yield AudioChunk(index=index, total=len(self.texts), text=text, samples=samples,
                                 sample_rate=rate, start=emitted / rate,
                                 end=(emitted + len(samples)) / rate, mel=chunk.mel)
                emitted += len(samples)
                self.emitted_seconds = emitted / rate
        except GeneratorExit:
            if self.done_chunks < len(self.texts):
                self.cancel("closed by its consumer")
            raise
        finally:
            self.close()

    def _synthesize(self, backend: ModelBackend, prepared, text: str, chunk_params, index: int):
        try:
            return backend.synthesize_chunk(prepared, self.ref.ref_text, text, chunk_params,
                                            chunk_seed(self.seed, index),
                                            should_stop=lambda: self.cancelled)
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            free_device_memory(backend.device)
            raise OutOfMemory(
                f"Out of memory on {backend.device} during generation; send shorter text, "
                "set TTS_MAX_LOADED_MODELS lower, or use a device with more memory.") from exc

    def _is_pause(self, index: int) -> bool:
        return 0 <= index < len(self.texts) and isinstance(self.texts[index], Pause)

    def collect(self, on_chunk: Callable[[AudioChunk], None] | None = None) -> SynthesisResult:
        """Run the whole stream; the joined samples (silences removed as upstream does, on
        the whole file, when asked). ``on_chunk`` sees each chunk as it is made (progress)."""
        pieces, mels, rate = [], [], self.ref.sample_rate
        for chunk in self:
            if on_chunk is not None:
                on_chunk(chunk)
            pieces.append((chunk.samples, self._is_pause(chunk.index)))
            rate = chunk.sample_rate
            if chunk.mel is not None:
                mels.append(chunk.mel)
        if self.params.remove_silence and not self.streaming:
            samples = _without_silences(pieces, rate)
        else:
            samples = (np.concatenate([piece for piece, _ in pieces]) if pieces
                       else np.zeros(0, dtype=np.float32))
        return SynthesisResult(
            samples=samples, sample_rate=rate, seed=self.seed, ref_text=self.ref.ref_text,
            chunks=len(self.texts), spectrogram=np.concatenate(mels, axis=1) if mels else None,
            timings=dict(self.timings))


def _without_silences(pieces: list[tuple[np.ndarray, bool]], rate: int) -> np.ndarray:
    """Silences removed as upstream does, from the speech between pauses only: a pause asked
    for is kept exactly."""
    out, speech = [], []
    for samples, is_pause in pieces + [(np.zeros(0, dtype=np.float32), True)]:
        if not is_pause:
            speech.append(samples)
            continue
        if speech:
            out.append(remove_silences(np.concatenate(speech), rate))
            speech = []
        out.append(samples)
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)
