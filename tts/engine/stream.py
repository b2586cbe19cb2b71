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
                 ref: PreparedReference, texts: list[str], params: SynthesisParams,
                 streaming: bool, label: str = "-"):
        self._queue = queue
        self._ticket = ticket
        self._lease = lease
        self.ref = ref
        self.texts = texts
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
        fader = CrossFader(int(params.cross_fade_duration * self.ref.sample_rate))
        prepared = backend.prepare(self.ref)
        emitted = 0
        try:
            for index, text in enumerate(self.texts):
                if self.cancelled:
                    raise GenerationCancelled("The generation was cancelled.")
                with self._queue.turn(lambda: self.cancelled) as waited:
                    self.timings["queue_seconds"] += waited
                    started = time.perf_counter()
                    chunk = self._synthesize(backend, prepared, text, chunk_params, index)
                    self.timings["inference_seconds"] += time.perf_counter() - started
                self.done_chunks = index + 1
                samples = fader.push(chunk.samples)
                if index == len(self.texts) - 1:
                    samples = np.concatenate([samples, fader.flush()])
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

    def collect(self, on_chunk: Callable[[AudioChunk], None] | None = None) -> SynthesisResult:
        """Run the whole stream; the joined samples (silences removed as upstream does, on
        the whole file, when asked). ``on_chunk`` sees each chunk as it is made (progress)."""
        pieces, mels, rate = [], [], self.ref.sample_rate
        for chunk in self:
            if on_chunk is not None:
                on_chunk(chunk)
            pieces.append(chunk.samples)
            rate = chunk.sample_rate
            if chunk.mel is not None:
                mels.append(chunk.mel)
        samples = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
        if self.params.remove_silence and not self.streaming:
            samples = remove_silences(samples, rate)
        return SynthesisResult(
            samples=samples, sample_rate=rate, seed=self.seed, ref_text=self.ref.ref_text,
            chunks=len(self.texts), spectrogram=np.concatenate(mels, axis=1) if mels else None,
            timings=dict(self.timings))
