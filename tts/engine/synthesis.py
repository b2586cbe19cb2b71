"""What a generation is asked for and what it returns, and how its text is cut into chunks."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import audio
from .backends.base import ChunkParams
from .errors import GenerationFailed
from .frontend import FrontEnd, Lexicon, Pause, PauseError, prepare
from .pacing import ChunkCost, next_chunk_seconds
from .reference import PreparedReference

#: Seeds are kept within 32 bits so every client (JavaScript included) round-trips them exactly.
MAX_SEED = 2**32 - 1
#: Upstream's chunk budget is (22 - reference seconds) worth of text per chunk.
MAX_CHUNK_SECONDS = 22
#: A stream's chunks are sized by tts.engine.pacing (the first about a second of speech, the
#: next ones as long as they can be made in time), but never so short that upstream slows
#: them down (it speaks chunks under 10 bytes at 0.3×)...
MIN_FIRST_CHUNK_BYTES = 24
#: ...and only the first few: by then a chunk is full-size or the machine cannot keep up.
MAX_PACED_CHUNKS = 8
#: A paced chunk holds at least this share of its size (cut at a space if need be).
PACED_FILL = 0.9

#: Quality presets → denoising steps. 7 and 16 have upstream's tuned (EPSS) step schedules,
#: which keep quality at few steps; 32 (even steps) is upstream's default and ours.
QUALITY_NFE = {"fast": 7, "balanced": 16, "best": 32}
DEFAULT_QUALITY = "best"


def nfe_for(quality: str | None, nfe_step: int | None) -> int:
    """An explicit ``nfe_step`` wins over ``quality``; neither means the default quality."""
    if nfe_step is not None:
        return nfe_step
    return QUALITY_NFE[quality or DEFAULT_QUALITY]


@dataclass(frozen=True)
class SynthesisParams:
    speed: float = 1.0
    cross_fade_duration: float = 0.15
    nfe_step: int = 32
    cfg_strength: float = 2.0
    sway_sampling_coef: float = -1.0
    remove_silence: bool = False
    seed: int | None = None
    #: Text normalisation: ``auto`` (English and Chinese written out as said) or ``off``.
    normalize: str = "auto"
    #: The request's pronunciations (word → how to say it), over the lexicon file's.
    pronunciations: dict | None = None

    def chunk_params(self) -> ChunkParams:
        return ChunkParams(nfe_step=self.nfe_step, cfg_strength=self.cfg_strength,
                           sway_sampling_coef=self.sway_sampling_coef, speed=self.speed)

    def resolved_seed(self) -> int:
        # Not the `random` module: seeding a generation reseeds it, so after a seeded request
        # the "random" seeds of the next ones would repeat across clients.
        return self.seed if self.seed is not None else secrets.randbelow(MAX_SEED + 1)


@dataclass
class SynthesisResult:
    samples: np.ndarray
    sample_rate: int
    seed: int
    ref_text: str
    chunks: int
    spectrogram: np.ndarray | None
    timings: dict[str, float] = field(default_factory=dict)
    #: Every source word timed on the output's timeline (tts.engine.listen.WordTime), when
    #: timestamps or verification were asked for.
    words: list | None = None
    #: The intelligibility guard's verdict per chunk, with ``verify``.
    checks: list[dict] | None = None
    #: Speaker similarity ({similarity, chunks: [{index, similarity, seconds}]}), when asked.
    similarity: dict | None = None

    @property
    def seconds(self) -> float:
        return audio.seconds(self.samples, self.sample_rate)


ProgressCallback = Callable[[int, int], None]


def chunk_seed(seed: int, index: int) -> int:
    """Each chunk is seeded on its own, so chunks of different requests may interleave on
    the device and a seed still reproduces every chunk."""
    return (seed + index) % (MAX_SEED + 1)


def chunk_budget(ref: PreparedReference, speed: float) -> int:
    """Upstream's bytes of text per chunk for this reference."""
    ref_seconds = ref.seconds
    return max(int(len(ref.ref_text.encode("utf-8")) / ref_seconds
                   * (MAX_CHUNK_SECONDS - ref_seconds) * speed), 1)


@dataclass(frozen=True)
class Pacing:
    """What sizes a stream's chunks: the model's denoising steps and its measured cost on
    this machine (None, or nothing measured yet: the first chunk short, the rest full)."""

    steps: int
    cost: ChunkCost | None = None


def chunk_text(ref: PreparedReference, gen_text: str, speed: float, *,
               short_first: bool = False, pacing: Pacing | None = None) -> list[str]:
    """Split ``gen_text`` as upstream's ``infer_process`` does (sentences within a budget
    derived from the reference), then split any sentence still over budget at spaces, so that
    no request can ask for one enormous chunk. With ``short_first`` (a stream) the first
    chunks are paced (tts.engine.pacing): the first holds about a second of speech, each next
    one as much as ``pacing``'s measured cost says can be ready before the audio before it
    has played; each is cut at punctuation, else at a space."""
    max_chars = chunk_budget(ref, speed)
    if not short_first or ref.seconds >= MAX_CHUNK_SECONDS:
        return _split(gen_text, max_chars)
    pacing = pacing or Pacing(steps=1)
    rate = max_chars / (MAX_CHUNK_SECONDS - ref.seconds)  # bytes per second of speech
    chunks: list[str] = []
    made: list[float] = []  # predicted seconds of each paced chunk
    rest = gen_text
    while rest and len(made) < MAX_PACED_CHUNKS:
        seconds = next_chunk_seconds(made, ref_seconds=ref.seconds, steps=pacing.steps,
                                     cost=pacing.cost,
                                     max_seconds=MAX_CHUNK_SECONDS - ref.seconds)
        budget = max(int(rate * seconds), MIN_FIRST_CHUNK_BYTES)
        if budget >= max_chars:
            break
        pieces = _split(rest, budget)
        if not pieces:
            break
        head, *tail = pieces
        # Near its size even where a sentence ends early (then cut at a space): a paced
        # chunk much shorter than planned would leave the next one too little time.
        head, tail = _at_least(head, tail, int(budget * PACED_FILL), budget)
        chunks.append(head)
        made.append(len(head.encode("utf-8")) / rate)
        rest = " ".join(tail)
    return chunks + (_split(rest, max_chars) if rest else [])


def plan_text(gen_text: str, params: SynthesisParams, *, lexicon: Lexicon | None = None,
              model_normalizes: bool = True) -> FrontEnd:
    """The request's text through the front-end (pauses, normalisation, lexicon); a bad
    pause tag is a GenerationFailed naming it (400)."""
    try:
        request_lexicon = (lexicon or Lexicon()).with_request(params.pronunciations)
        return prepare(gen_text, lexicon=request_lexicon,
                       normalize=model_normalizes and params.normalize != "off")
    except PauseError as exc:
        raise GenerationFailed(exc.message, code=exc.code, attr="gen_text") from None


def chunk_plan(ref: PreparedReference, plan: FrontEnd, speed: float, *,
               short_first: bool = False, pacing: Pacing | None = None) -> list[str | Pause]:
    """The spoken text cut into chunks, each stretch between two pauses on its own (no
    chunk spans a pause); stretches with nothing to say are dropped."""
    items: list[str | Pause] = []
    for piece in plan.pieces:
        if isinstance(piece, Pause):
            items.append(piece)
            continue
        if not any(char.isalnum() for char in piece.text):
            continue
        first = short_first and not any(isinstance(item, str) for item in items)
        items += chunk_text(ref, " ".join(piece.text.split()), speed, short_first=first,
                            pacing=pacing)
    return items


def _split(text: str, max_chars: int) -> list[str]:
    from f5_tts.infer.utils_infer import chunk_text as upstream_chunk_text

    return [piece for chunk in upstream_chunk_text(text, max_chars=max_chars)
            for piece in _split_over_budget(chunk, max_chars)]


def _at_least(head: str, tail: list[str], minimum: int, budget: int) -> tuple[str, list[str]]:
    """``head`` lengthened with the next words (up to ``budget`` bytes) while it is under
    ``minimum`` bytes; the rest as one piece."""
    if len(head.encode("utf-8")) >= minimum or not tail:
        return head, tail
    words = " ".join(tail).split()
    while words and len(head.encode("utf-8")) < minimum:
        longer = f"{head} {words[0]}"
        if len(longer.encode("utf-8")) > budget:
            break
        head = longer
        words.pop(0)
    return head, [" ".join(words)] if words else []


def _split_over_budget(chunk: str, max_chars: int) -> list[str]:
    if len(chunk.encode("utf-8")) <= max_chars:
        return [chunk]
    pieces, current = [], ""
    for word in chunk.split():
        while len(word.encode("utf-8")) > max_chars:  # no spaces to split at: cut the word
            if current:
                pieces.append(current)
                current = ""
            cut = max(len(word.encode("utf-8")[:max_chars].decode("utf-8", "ignore")), 1)
            pieces.append(word[:cut])
            word = word[cut:]
        candidate = f"{current} {word}".strip()
        if current and len(candidate.encode("utf-8")) > max_chars:
            pieces.append(current)
            candidate = word
        current = candidate
    if current:
        pieces.append(current)
    return pieces


def remove_silences(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Upstream's rule for generated speech (silences of 1 s or more at -50 dBFS shortened to
    0.5 s on each side), applied to the samples in memory."""
    return remove_silences_mapped(samples, sample_rate)[0]


def remove_silences_mapped(samples: np.ndarray, sample_rate: int
                           ) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """``remove_silences``, and the ranges it kept (seconds of the input, in order; empty when
    it kept everything), so that times can be moved onto the shortened audio. The ranges are
    pydub's ``split_on_silence``'s, computed the same way."""
    from pydub import AudioSegment, silence

    segment = audio.to_segment(samples, sample_rate)
    ranges = [[start - KEEP_SILENCE_MS, end + KEEP_SILENCE_MS]
              for start, end in silence.detect_nonsilent(segment, min_silence_len=1000,
                                                         silence_thresh=-50, seek_step=10)]
    for first, second in zip(ranges, ranges[1:], strict=False):
        if second[0] < first[1]:
            first[1] = (first[1] + second[0]) // 2
            second[0] = first[1]
    ranges = [(max(start, 0), min(end, len(segment))) for start, end in ranges]
    pieces = [segment[start:end] for start, end in ranges]
    joined = sum(pieces, AudioSegment.silent(duration=0, frame_rate=sample_rate))
    cleaned = audio.from_segment(joined)
    if not cleaned.size:  # all silence: keep what there was
        return samples, []
    return cleaned, [(start / 1000, end / 1000) for start, end in ranges]


KEEP_SILENCE_MS = 500
