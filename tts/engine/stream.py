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
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np

from .backends import ModelBackend
from .devices import free_device_memory, is_out_of_memory
from .errors import GenerationCancelled, OutOfMemory
from .frontend import FrontEnd, Pause
from .listen import (
    Heard,
    Listener,
    ListenOptions,
    TimeMap,
    WordTime,
    Written,
    as_written,
    done,
    monotonic,
    shift_words,
    source_words,
    written_spans,
)
from .pacing import ChunkCost
from .pool import ModelLease
from .reference import PreparedReference
from .scheduler import DeviceQueue, Ticket
from .synthesis import (
    MAX_SEED,
    SynthesisParams,
    SynthesisResult,
    chunk_seed,
    remove_silences_mapped,
)
from .voiceprint import VoiceMatch

logger = logging.getLogger(__name__)


@dataclass
class ChunkListening:
    """A chunk's listening pass (done, or running beside the next chunk's generation) and
    where the chunk sits, so its words land on the stream's output timeline."""

    heard: Future[Heard]
    #: Where the chunk's first sample sits in the joined audio, before any silence removal.
    offset: float
    #: Joined-audio seconds -> output seconds (per-chunk silence removal); None: the same.
    mapping: Callable[[float], float] | None = None
    #: The intelligibility guard's verdict ({index, cer, attempts, seed, passed}); None
    #: without ``verify``.
    check: dict | None = None
    #: Seconds added last (a script's earlier parts).
    shift: float = 0.0
    #: Who speaks this chunk (the caller's label for it: a saved voice id), if anyone says.
    voice: str | None = None
    #: Where each of the chunk's words came from in the user's text (and that text), so that
    #: words are reported as written; None: as spoken.
    written: tuple[list[Written], str] | None = None

    def words(self) -> list[WordTime]:
        """The chunk's source words on the stream's timeline (waits for the pass)."""
        words = shift_words(self.heard.result().words, self.offset, self.mapping)
        if self.written is not None:
            words = as_written(words, *self.written)
        return shift_words(words, self.shift) if self.shift else words


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
    listening: ChunkListening | None = None
    #: How much the chunk sounds like the reference (cosine of voiceprints), when asked.
    similarity: float | None = None

    def words(self) -> list[WordTime] | None:
        """This chunk's words on the stream's timeline, clamped inside this chunk's audio
        (waits for the listening pass); None when nobody asked for them."""
        if self.listening is None:
            return None
        return monotonic(self.listening.words(), self.start, self.end)


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

    @property
    def pending(self) -> int:
        """Samples held back for the next chunk to fade into."""
        return len(self._tail)

    def flush(self) -> np.ndarray:
        tail, self._tail = self._tail, np.zeros(0, dtype=np.float32)
        return tail


class SpeechStream:
    """Iterate for chunks; ``collect`` for the whole file. Owns the request's ticket and
    model lease and gives both back when it ends, however it ends."""

    def __init__(self, *, queue: DeviceQueue, ticket: Ticket, lease: ModelLease,
                 ref: PreparedReference, texts: list[str | Pause], params: SynthesisParams,
                 streaming: bool, label: str = "-", spoken: FrontEnd | None = None,
                 listener: Listener | None = None, listen: ListenOptions | None = None,
                 voice: VoiceMatch | None = None, cost: ChunkCost | None = None):
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
        self.listener = listener
        #: The model's measured chunk cost, updated with every chunk made (paces streams).
        self.cost = cost
        self.listen = listen if listen is not None and listen.active and (
            listener is not None or not listen.hears) else None
        #: The reference's voiceprint, when chunks are scored against it.
        self.voice = voice if self.listen is not None and self.listen.scores_voice else None
        #: Each spoken chunk's similarity ({index, similarity, seconds}), and voiceprints.
        self.similarities: list[dict] = []
        self._prints: list[tuple[np.ndarray, float]] = []
        #: Each spoken word's source in the user's text, when words are listened for and the
        #: chunks hold the front-end's words one for one (they do unless a chunk was cut
        #: inside a word).
        self._written = self._written_spans()
        #: The guard's verdict per chunk, in order (with ``verify``).
        self.checks: list[dict] = []
        self.model_id = lease.model_id
        self._cancelled = threading.Event()
        self.done_chunks = 0
        #: Seconds of audio handed out so far.
        self.emitted_seconds = 0.0
        self.timings = {"queue_seconds": 0.0, "load_seconds": lease.load_seconds,
                        "inference_seconds": 0.0}
        if self.voice is not None:
            self.timings["similarity_seconds"] = 0.0

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
        emitted = 0  # output samples handed out
        joined = 0  # samples of the joined audio handed out, before per-chunk silence removal
        spoken_chunks = 0  # chunks of speech so far: their seeds do not count the pauses
        spoken_words = 0  # words of speech so far (where the next chunk's sources start)
        try:
            for index, text in enumerate(self.texts):
                if self.cancelled:
                    raise GenerationCancelled("The generation was cancelled.")
                if isinstance(text, Pause):  # silence as it is; the next chunk starts afresh
                    rate = self.ref.sample_rate
                    fader = CrossFader(overlap)
                    samples = np.zeros(text.samples(rate), dtype=np.float32)
                    self.done_chunks = index + 1
                    yield AudioChunk(index=index, total=len(self.texts), text=text.tag,
                                     samples=samples, sample_rate=rate, start=emitted / rate,
                                     end=(emitted + len(samples)) / rate)
                    emitted += len(samples)
                    joined += len(samples)
                    self.emitted_seconds = emitted / rate
                    continue
                chunk, heard, check, similarity = self._attempts(
                    backend, prepared, text, chunk_params, index, spoken_chunks)
                spoken_chunks += 1
                written = None
                if self._written is not None:
                    count = len(source_words(text))
                    written = (self._written[spoken_words:spoken_words + count],
                               self.spoken.source)
                    spoken_words += count
                self.done_chunks = index + 1
                rate = chunk.sample_rate
                # The chunk's first sample lands where the held-back tail starts fading.
                offset = joined + fader.pending - min(fader.pending, len(chunk.samples))
                samples = fader.push(chunk.samples)
                if index == len(self.texts) - 1 or self._is_pause(index + 1):
                    samples = np.concatenate([samples, fader.flush()])  # no fade across
                mapping = None
                if self.streaming and params.remove_silence:
                    before = len(samples)
                    samples, kept = remove_silences_mapped(samples, rate)
                    mapping = _piece_mapping(joined / rate, before / rate, emitted / rate,
                                             len(samples) / rate, TimeMap(kept))
                    joined += before
                else:
                    joined += len(samples)
                listening = None
                if heard is not None:
                    listening = ChunkListening(heard=heard, offset=offset / rate,
                                               mapping=mapping, check=check, written=written)
                yield AudioChunk(index=index, total=len(self.texts), text=text, samples=samples,
                                 sample_rate=rate, start=emitted / rate,
                                 end=(emitted + len(samples)) / rate, mel=chunk.mel,
                                 listening=listening, similarity=similarity)
                emitted += len(samples)
                self.emitted_seconds = emitted / rate
        except GeneratorExit:
            if self.done_chunks < len(self.texts):
                self.cancel("closed by its consumer")
            raise
        finally:
            self.close()

    def _attempts(self, backend: ModelBackend, prepared, text: str, chunk_params, index: int,
                  seed_index: int):
        """The chunk, its listening pass (a future; None when not listening), the guard's
        verdict and the chunk's similarity to the reference. With ``verify`` each attempt is
        heard at once (and scored, with TTS_VERIFY_MIN_SIMILARITY) and a chunk whose
        character error rate is over the limit, or whose voice is too unlike the reference,
        is generated again with the next seed, up to the retries; the best attempt is kept
        (fewest failed checks, then lowest error rate, then most alike; the first of equals,
        so a seed reproduces)."""
        listen = self.listen
        seed = chunk_seed(self.seed, seed_index)
        if listen is None or not listen.verify:
            chunk = self._turn(backend, prepared, text, chunk_params, seed)
            heard = (self.listener.submit(chunk.samples, chunk.sample_rate, text)
                     if listen is not None and listen.hears else None)
            similarity = self._keep_score(index, chunk, self._score(chunk))
            return chunk, heard, None, similarity
        min_similarity = listen.min_similarity if self.voice is not None else 0.0
        best = None
        attempts = 0
        for attempt in range(listen.retries + 1):
            if attempt and self.cancelled:
                raise GenerationCancelled("The generation was cancelled.")
            attempt_seed = (seed + attempt) % (MAX_SEED + 1)
            chunk = self._turn(backend, prepared, text, chunk_params, attempt_seed)
            # Heard on the listening thread (lower priority), waited for: the guard holds
            # the chunk until it has an answer.
            future = self.listener.submit(chunk.samples, chunk.sample_rate, text)
            score = self._score(chunk)
            heard = future.result()
            attempts += 1
            failed = []
            if heard.cer > listen.max_cer:
                failed.append("cer")
            if min_similarity and score[0] is not None and score[0] < min_similarity:
                failed.append("similarity")
            rank = (len(failed), heard.cer, -(score[0] or 0.0))
            if best is None or rank < best[0]:
                best = (rank, chunk, heard, attempt_seed, score, failed)
            if not failed:
                break
            logger.info("[%s] chunk %d attempt %d failed %s (cer %.2f, similarity %s)%s",
                        self.label, index, attempts, "+".join(failed), heard.cer, score[0],
                        "; trying the next seed" if attempt < listen.retries else "; giving up")
        _, chunk, heard, used_seed, score, failed = best
        check = {"index": index, "cer": heard.cer, "attempts": attempts, "seed": used_seed,
                 "passed": not failed, "recognised": heard.recognised, "failed": failed}
        if self.voice is not None:
            check["similarity"] = score[0]
        self.checks.append(check)
        similarity = self._keep_score(index, chunk, score)
        return chunk, done(heard), check, similarity

    def _score(self, chunk) -> tuple[float | None, np.ndarray | None]:
        """The chunk's similarity to the reference and its voiceprint (None, None: not
        scored, or too little speech)."""
        if self.voice is None:
            return None, None
        started = time.perf_counter()
        score = self.voice.score(chunk.samples, chunk.sample_rate)
        self.timings["similarity_seconds"] += time.perf_counter() - started
        return score

    def _keep_score(self, index: int, chunk, score) -> float | None:
        similarity, voiceprint = score
        if self.voice is None or not self.listen.similarity:
            return None
        seconds = len(chunk.samples) / chunk.sample_rate
        self.similarities.append({"index": index, "similarity": similarity,
                                  "seconds": round(seconds, 3)})
        if voiceprint is not None:
            self._prints.append((voiceprint, seconds))
        return similarity

    def overall_similarity(self) -> float | None:
        """The whole output's similarity to the reference (None: not asked, or no speech)."""
        if self.voice is None or not self._prints:
            return None
        return self.voice.overall([p for p, _ in self._prints], [s for _, s in self._prints])

    def voice_similarity(self) -> dict | None:
        """The stream's similarity report ({similarity, chunks}), when asked for."""
        if self.voice is None or not self.listen.similarity:
            return None
        return {"similarity": self.overall_similarity(), "chunks": list(self.similarities)}

    def _turn(self, backend: ModelBackend, prepared, text: str, chunk_params, seed: int):
        """One synthesis in this request's turn on the device."""
        with self._queue.turn(lambda: self.cancelled) as waited:
            self.timings["queue_seconds"] += waited
            started = time.perf_counter()
            chunk = self._synthesize(backend, prepared, text, chunk_params, seed)
            elapsed = time.perf_counter() - started
            self.timings["inference_seconds"] += elapsed
        if self.cost is not None:
            self.cost.observe(audio_seconds=self.ref.seconds
                              + len(chunk.samples) / chunk.sample_rate,
                              steps=chunk_params.nfe_step, seconds=elapsed)
        return chunk

    def _synthesize(self, backend: ModelBackend, prepared, text: str, chunk_params, seed: int):
        try:
            return backend.synthesize_chunk(prepared, self.ref.ref_text, text, chunk_params,
                                            seed, should_stop=lambda: self.cancelled)
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            free_device_memory(backend.device)
            raise OutOfMemory(
                f"Out of memory on {backend.device} during generation; send shorter text, "
                "set TTS_MAX_LOADED_MODELS lower, or use a device with more memory.") from exc

    def _written_spans(self) -> list[Written] | None:
        if self.listen is None or not self.listen.hears or self.spoken is None:
            return None
        spans = written_spans(self.spoken)
        words = sum(len(source_words(text)) for text in self.texts if isinstance(text, str))
        if words != len(spans):
            logger.warning("[%s] the chunks do not hold the text's words one for one; words "
                           "are reported as spoken", self.label)
            return None
        return spans

    def _is_pause(self, index: int) -> bool:
        return 0 <= index < len(self.texts) and isinstance(self.texts[index], Pause)

    def collect(self, on_chunk: Callable[[AudioChunk], None] | None = None) -> SynthesisResult:
        """Run the whole stream; the joined samples (silences removed as upstream does, on
        the whole file, when asked). ``on_chunk`` sees each chunk as it is made (progress).
        When listening, the result has every source word timed on the output's timeline."""
        pieces, mels, rate = [], [], self.ref.sample_rate
        listenings: list[tuple[AudioChunk, ChunkListening]] = []
        for chunk in self:
            if on_chunk is not None:
                on_chunk(chunk)
            pieces.append((chunk.samples, self._is_pause(chunk.index)))
            rate = chunk.sample_rate
            if chunk.mel is not None:
                mels.append(chunk.mel)
            if chunk.listening is not None:
                listenings.append((chunk, chunk.listening))
        kept: list[tuple[float, float]] = []
        if self.params.remove_silence and not self.streaming:
            samples, kept = _without_silences(pieces, rate)
        else:
            samples = (np.concatenate([piece for piece, _ in pieces]) if pieces
                       else np.zeros(0, dtype=np.float32))
        words = None
        if self.listen is not None and self.listen.hears:
            words = []
            for chunk, listening in listenings:
                # Inside the chunk's own stretch of the joined audio, then onto the output.
                words += monotonic(listening.words(), chunk.start, chunk.end)
            mapping = TimeMap(kept)
            words = monotonic([WordTime(w.word, mapping(w.start), mapping(w.end), w.confidence)
                               for w in words], 0.0, len(samples) / rate)
        return SynthesisResult(
            samples=samples, sample_rate=rate, seed=self.seed, ref_text=self.ref.ref_text,
            chunks=len(self.texts), spectrogram=np.concatenate(mels, axis=1) if mels else None,
            timings=dict(self.timings), words=words,
            checks=list(self.checks) if self.listen is not None and self.listen.verify
            else None, similarity=self.voice_similarity())


def _piece_mapping(joined_start: float, joined_seconds: float, output_start: float,
                   output_seconds: float, kept: TimeMap) -> Callable[[float], float]:
    """Joined-audio seconds -> output seconds for one piece whose silences were removed on
    its own (streams): inside the piece through its kept ranges; past its end (the held-back
    tail, which the next piece starts with) the same distance past the piece's output end."""
    joined_end = joined_start + joined_seconds

    def mapping(seconds: float) -> float:
        if seconds >= joined_end:
            return output_start + output_seconds + (seconds - joined_end)
        return output_start + min(kept(max(seconds - joined_start, 0.0)), output_seconds)

    return mapping


def _without_silences(pieces: list[tuple[np.ndarray, bool]], rate: int
                      ) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Silences removed as upstream does, from the speech between pauses only (a pause asked
    for is kept exactly), and the ranges kept (seconds of the joined input, for TimeMap)."""
    out: list[np.ndarray] = []
    kept: list[tuple[float, float]] = []
    speech: list[np.ndarray] = []
    position = 0  # samples of the joined input before the current stretch

    for samples, is_pause in pieces + [(np.zeros(0, dtype=np.float32), True)]:
        if not is_pause:
            speech.append(samples)
            continue
        if speech:
            stretch = np.concatenate(speech)
            cleaned, ranges = remove_silences_mapped(stretch, rate)
            start = position / rate
            out.append(cleaned)
            kept.extend((start + a, start + b) for a, b in ranges
                        or [(0.0, len(stretch) / rate)])
            position += len(stretch)
            speech = []
        if len(samples):
            start = position / rate
            out.append(samples)
            kept.append((start, start + len(samples) / rate))
            position += len(samples)
    samples = np.concatenate(out) if out else np.zeros(0, dtype=np.float32)
    return samples, kept
