"""Stream pacing: how much speech each chunk of a stream should hold, from what a chunk
measurably costs on this machine, and a count of the underruns a listener would hear.

A chunk costs about ``per_step × steps × (reference + chunk) seconds`` (the model denoises
the reference's frames with the chunk's at every step, and the vocoder is linear in the
audio). The first chunk holds about ``FIRST_CHUNK_SECONDS`` of speech, so first audio comes
after the reference and one short phrase; where the reference's share of every chunk's cost
would leave the next chunk late after so short a start, the first chunk is the shortest
after which each chunk can be ready in time (a first chunk of L seconds buys L seconds to
make the next one, which must denoise the reference again). Every later chunk is as long as
it can be while still being ready before the audio already handed out finishes playing, up
to upstream's chunk budget: chunks grow as the lead over the player grows. Where chunks cannot
keep ahead at all (a full-size chunk takes longer to make than to play), more chunks would
only repeat the reference's cost, so the rest of the text goes in full-size chunks.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

#: Seconds of speech in a stream's first chunk, where the machine is fast enough...
FIRST_CHUNK_SECONDS = 1.0
#: ...else the shortest after which every chunk can be ready in time, with this margin.
FIRST_CHUNK_MARGIN = 1.5
#: A later chunk holds at least this much speech (where the lead is short, a short chunk
#: is late by the least).
MIN_PACED_SECONDS = 1.0
#: Weight of the newest measurement in the running estimate.
SMOOTHING = 0.5
#: Plans use the estimate rounded up to a power of this (at most 19 % over: on the safe side).
SNAPSHOT_STEP = 2 ** 0.25


@dataclass
class ChunkCost:
    """Measured seconds of generation per second of (reference + chunk) audio per
    denoising step, for one model on this machine: a running average over the chunks made.
    Thread-safe; None until a chunk has been measured."""

    per_step_second: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def observe(self, *, audio_seconds: float, steps: int, seconds: float) -> None:
        """One chunk made: ``audio_seconds`` of reference and chunk, ``steps`` steps, in
        ``seconds``."""
        if audio_seconds <= 0 or steps <= 0 or seconds <= 0:
            return
        rate = seconds / (audio_seconds * steps)
        with self._lock:
            self.per_step_second = rate if self.per_step_second is None else (
                SMOOTHING * rate + (1 - SMOOTHING) * self.per_step_second)

    def snapshot(self) -> ChunkCost:
        """A copy that later measurements leave alone (a plan made from it holds), rounded
        up to a power of ``SNAPSHOT_STEP``: the same machine under its usual noise mostly
        plans the same chunks, so a stream's seed reproduces its samples there."""
        rate = self.per_step_second
        if rate is None:
            return ChunkCost()
        return ChunkCost(SNAPSHOT_STEP ** math.ceil(math.log(rate, SNAPSHOT_STEP) - 1e-9))

    def estimate(self, audio_seconds: float, steps: int) -> float | None:
        """Seconds to make a chunk of ``audio_seconds`` (reference included); None when
        nothing has been measured."""
        rate = self.per_step_second
        return None if rate is None else rate * steps * audio_seconds


def next_chunk_seconds(made: Sequence[float], *, ref_seconds: float, steps: int,
                       cost: ChunkCost | None, max_seconds: float) -> float:
    """Seconds of speech for a stream's next chunk after chunks of ``made`` seconds (as
    the chunker predicts them), made back to back from time 0 and played from the first
    one's arrival. The first chunk: ``FIRST_CHUNK_SECONDS``, or longer where chunks could
    not otherwise keep ahead (a cost per second of audio c < 1 needs a first chunk over
    ``reference × c / (1 - c)``). Later ones: the longest that
    would be ready before what was made so far has played (at least ``MIN_PACED_SECONDS``),
    or ``max_seconds`` when nothing is measured yet or chunks cannot keep ahead at all (a
    full-size chunk takes longer to make than to play)."""
    per_second = cost.per_step_second * steps \
        if cost is not None and cost.per_step_second is not None else None
    # Whether chunks can keep ahead at all: a full-size chunk made faster than it plays.
    keeps_up = per_second is not None and per_second * (ref_seconds + max_seconds) < max_seconds
    if not made:
        first = FIRST_CHUNK_SECONDS
        if keeps_up:  # the shortest first chunk after which chunks can grow in time
            first = max(first, FIRST_CHUNK_MARGIN * ref_seconds * per_second
                        / (1 - per_second))
        return min(first, max_seconds)
    if not keeps_up:  # unmeasured, or too slow: the fewest chunks cost the least
        return max_seconds
    ready, played_until = 0.0, None
    for seconds in made:
        ready += cost.estimate(ref_seconds + seconds, steps) or 0.0
        played_until = ready + seconds if played_until is None \
            else max(played_until, ready) + seconds
    fits = (played_until - ready) / per_second - ref_seconds
    return min(max(fits, MIN_PACED_SECONDS), max_seconds)


@dataclass
class PlaybackClock:
    """A listener who starts playing with the first audio and plays at real time, without
    buffering ahead: ``ready`` each piece as it arrives; a piece that arrives after what
    came before has finished playing is an underrun (a gap in the sound)."""

    underruns: int = 0
    #: Seconds the listener waited in silence, over all underruns.
    stalled_seconds: float = 0.0
    #: When what has arrived so far finishes playing (None before the first audio).
    played_until: float | None = None

    def ready(self, at: float, seconds: float) -> bool:
        """A piece of ``seconds`` of audio arrived at time ``at`` (any clock, seconds);
        True when it came late. Empty pieces count for nothing."""
        if seconds <= 0:
            return False
        if self.played_until is None:
            self.played_until = at + seconds
            return False
        late = at > self.played_until
        if late:
            self.underruns += 1
            self.stalled_seconds += at - self.played_until
        self.played_until = max(self.played_until, at) + seconds
        return late


def count_underruns(timeline: Iterable[tuple[float, float]]) -> PlaybackClock:
    """The clock after a whole timeline of (arrival time, seconds of audio) pieces."""
    clock = PlaybackClock()
    for at, seconds in timeline:
        clock.ready(at, seconds)
    return clock
