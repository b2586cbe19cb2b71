"""Listening back: what a generated chunk actually says, word by word.

One speech-recognition pass per chunk (tts.engine.asr, faster-whisper with word timestamps)
gives the recognised words and their times; ``align`` maps them onto the chunk's **source**
words (the text that was asked for), so that every source word appears once, in order, with a
start, an end and a confidence. Words the recogniser missed or heard as something else get
times interpolated from their neighbours and a low confidence. ``cer`` is the character error
rate of the chunk (recognised against source), which the intelligibility guard (``verify``)
compares with its limit.

The alignment is our own (difflib over normalised words), not stable-ts: we already know the
exact text, so what is needed is a word-to-word correspondence, not a re-transcription; see
docs/architecture.md ("Listening back").
"""

from __future__ import annotations

import bisect
import difflib
import re
import unicodedata
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from .asr import HeardWord, Recognition, Transcriber
from .frontend import FrontEnd, SpokenText

#: Confidence given to a word the recogniser did not hear at all (its times are a guess).
MISSED_CONFIDENCE = 0.0


@dataclass(frozen=True)
class WordTime:
    """One source word, where it is spoken (seconds) and how sure we are of it (0-1)."""

    word: str
    start: float
    end: float
    confidence: float
    voice: str | None = None

    def shifted(self, offset: float) -> WordTime:
        return WordTime(self.word, self.start + offset, self.end + offset, self.confidence,
                        self.voice)

    def as_dict(self) -> dict:
        return {"word": self.word, "start": round(self.start, 3), "end": round(self.end, 3),
                "confidence": round(self.confidence, 3), "voice": self.voice}


@dataclass(frozen=True)
class Heard:
    """One chunk listened to: its source words timed (chunk-local seconds), what was
    recognised, and the character error rate."""

    words: list[WordTime]
    recognised: str
    cer: float


@dataclass(frozen=True)
class ListenOptions:
    """What a generation asks of the listening pass."""

    words: bool = False  # word timestamps (and captions)
    verify: bool = False  # the intelligibility guard
    max_cer: float = 0.3
    retries: int = 2
    #: Speaker similarity per chunk and for the whole output (tts.engine.voiceprint).
    similarity: bool = False
    #: With ``verify``: a chunk less like its reference than this is generated again (0: off).
    min_similarity: float = 0.0

    @property
    def active(self) -> bool:
        return self.words or self.verify or self.similarity

    @property
    def hears(self) -> bool:
        """Whether speech recognition is needed (words, captions or the guard)."""
        return self.words or self.verify

    @property
    def scores_voice(self) -> bool:
        """Whether chunks are scored against the reference's voice."""
        return self.similarity or (self.verify and self.min_similarity > 0)


# --- text normalisation -----------------------------------------------------------------------
_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
         "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
         "eighteen", "nineteen"]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def number_words(number: int) -> str:
    """English words for a whole number below a billion (larger ones: its digits)."""
    if number < 20:
        return _ONES[number]
    if number < 100:
        tens, ones = divmod(number, 10)
        return _TENS[tens] + (f" {_ONES[ones]}" if ones else "")
    for size, name in ((1_000_000, "million"), (1000, "thousand"), (100, "hundred")):
        if number >= size:
            if number >= 1_000_000_000:
                break
            high, rest = divmod(number, size)
            return f"{number_words(high)} {name}" + (f" {number_words(rest)}" if rest else "")
    return " ".join(_ONES[int(digit)] for digit in str(number))


def normalise(text: str) -> str:
    """Lower case, numbers as words, punctuation and symbols dropped, spaces collapsed: the
    form in which recognised and source text are compared."""
    text = unicodedata.normalize("NFKC", text).lower().replace("’", "'")
    text = re.sub(r"(?<=\d)[,_](?=\d{3})", "", text)  # 1,000 -> 1000
    text = re.sub(r"\d+", lambda m: f" {number_words(int(m.group()))} ", text)
    kept = [char if (unicodedata.category(char)[0] in "LNM" or char == "'") else " "
            for char in text]
    return " ".join("".join(kept).replace("'", "").split())


def _key(word: str) -> str:
    return normalise(word).replace(" ", "")


# --- character error rate ---------------------------------------------------------------------
def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


def cer(source: str, recognised: str) -> float:
    """Character error rate of ``recognised`` against ``source``, both normalised (case,
    punctuation, numbers); spaces count as characters. 0 is perfect; can exceed 1."""
    reference, hypothesis = normalise(source), normalise(recognised)
    if not reference:
        return 0.0 if not hypothesis else 1.0
    return edit_distance(reference, hypothesis) / len(reference)


# --- alignment --------------------------------------------------------------------------------
def source_words(text: str) -> list[str]:
    """The words of a text as the user wrote them (whitespace-separated, punctuation kept);
    tokens with nothing to say (a lone dash) are kept too, so that every token is timed."""
    return text.split()


#: Where one spoken word came from in the user's text: (start, end) characters.
Written = tuple[int, int]


def written_spans(front: FrontEnd) -> list[Written]:
    """For each spoken word of ``front`` (its speech, in order, split as ``source_words``
    splits a chunk), the characters of the user's text it says: a word of a normalised
    stretch ("twelve" of "$12.50") says the whole stretch."""
    spans: list[Written] = []
    for piece in front.pieces:
        if isinstance(piece, SpokenText):
            spans += [piece.source_span(match.start(), match.end())
                      for match in re.finditer(r"\S+", piece.text)]
    return spans


def as_written(words: Sequence[WordTime], spans: Sequence[Written], source: str
               ) -> list[WordTime]:
    """Words as the user wrote them: spoken words whose sources overlap (the words a
    normalised stretch became) are reported once, as written, spanning their times. ``spans``
    are the words' sources (``written_spans``), one per word."""
    merged: list[tuple[Written, list[WordTime]]] = []
    for word, (start, end) in zip(words, spans, strict=True):
        if merged and start < merged[-1][0][1]:
            (low, high), group = merged[-1]
            merged[-1] = ((low, max(high, end)), [*group, word])
        else:
            merged.append(((start, end), [word]))
    return [WordTime(source[low:high].strip() or group[0].word, group[0].start, group[-1].end,
                     min(word.confidence for word in group), group[0].voice)
            for (low, high), group in merged]


def align(text: str, heard: Sequence[HeardWord], duration: float) -> list[WordTime]:
    """Every source word of ``text`` once, in order, timed from the recognised ``heard``
    words (times in seconds within a clip of ``duration``).

    Source and recognised words are matched on their normalised form with difflib's
    longest-matching-blocks; a source stretch heard differently takes the time of what was
    heard in its place (split by letters), one not heard at all is interpolated between its
    neighbours. Confidence: the recogniser's probability for an exact match, scaled by the
    similarity for a substitution, 0 for a word not heard."""
    words = source_words(text)
    if not words:
        return []
    keys = [_key(word) for word in words]
    heard = [word for word in heard if _key(word.word)]
    heard_keys = [_key(word.word) for word in heard]
    # The recogniser may split one written word into several ("mid-day" / "mid day"): match
    # on letters, by comparing word sequences first, then fixing the rest by letters below.
    timed: list[tuple[float, float, float] | None] = [None] * len(words)
    matcher = difflib.SequenceMatcher(a=keys, b=heard_keys, autojunk=False)
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal":
            for offset in range(a1 - a0):
                got = heard[b0 + offset]
                timed[a0 + offset] = (got.start, got.end, got.probability)
        elif tag == "replace":
            _spread(words, keys, timed, a0, a1, heard[b0:b1])
    return _interpolate(words, timed, duration)


def _spread(words, keys, timed, a0: int, a1: int, heard: Sequence[HeardWord]) -> None:
    """Source words ``a0:a1`` were heard as ``heard`` (other words): share that time among
    them by letters; confidence is the heard probability times the letters' similarity."""
    start, end = heard[0].start, heard[-1].end
    letters = [max(len(keys[i]), 1) for i in range(a0, a1)]
    similarity = difflib.SequenceMatcher(
        a=" ".join(keys[a0:a1]), b=" ".join(_key(word.word) for word in heard),
        autojunk=False).ratio()
    probability = min(word.probability for word in heard) * similarity
    total, cursor = sum(letters), start
    for index, count in zip(range(a0, a1), letters, strict=True):
        step = (end - start) * count / total
        timed[index] = (cursor, cursor + step, probability)
        cursor += step


def _interpolate(words: list[str], timed, duration: float) -> list[WordTime]:
    """Fill the words without times between their timed neighbours (by letters), then make
    the whole sequence monotonic and inside [0, duration]."""
    result: list[WordTime] = []
    index = 0
    while index < len(words):
        if timed[index] is not None:
            start, end, confidence = timed[index]
            result.append(WordTime(words[index], start, end, confidence))
            index += 1
            continue
        gap_end = index
        while gap_end < len(words) and timed[gap_end] is None:
            gap_end += 1
        # Unheard words at the edges fill the clip up to its start or end.
        left = result[-1].end if result else 0.0
        right = timed[gap_end][0] if gap_end < len(words) else duration
        right = max(right, left)
        letters = [max(len(_key(words[i])), 1) for i in range(index, gap_end)]
        total, cursor = sum(letters), left
        for i, count in zip(range(index, gap_end), letters, strict=True):
            step = (right - left) * count / total
            result.append(WordTime(words[i], cursor, cursor + step, MISSED_CONFIDENCE))
            cursor += step
        index = gap_end
    return monotonic(result, 0.0, duration)


def monotonic(words: Sequence[WordTime], floor: float, ceiling: float) -> list[WordTime]:
    """Each word starts no earlier than the previous one ends, ends no earlier than it starts,
    and all of it lies within [floor, ceiling]."""
    fixed: list[WordTime] = []
    last = floor
    for word in words:
        start = min(max(word.start, last), ceiling)
        end = min(max(word.end, start), ceiling)
        fixed.append(WordTime(word.word, start, end, word.confidence, word.voice))
        last = end
    return fixed


# --- boundaries refined by the sound itself ------------------------------------------------------
#: Frames of this many seconds decide what is silence...
FRAME_SECONDS = 0.01
#: ...when quieter than the clip's loudest frame by this many dB.
SILENCE_DB = 35.0


def snap_to_sound(words: Sequence[WordTime], samples: np.ndarray,
                  sample_rate: int) -> list[WordTime]:
    """Whisper's word times are coarse (they come from attention over 20 ms tokens) and tend
    to stretch a word over the pause beside it. Trim each word's silent edges: its start moves
    forward to its first audible frame and its end back to its last one (never past each
    other; a word all silence, e.g. interpolated into a pause, is left as it is)."""
    if not len(samples) or not words:
        return list(words)
    frame = max(int(FRAME_SECONDS * sample_rate), 1)
    count = len(samples) // frame
    if count == 0:
        return list(words)
    frames = samples[:count * frame].astype(np.float32).reshape(count, frame)
    level = np.sqrt(np.mean(frames ** 2, axis=1)) + 1e-9
    loud = 20 * np.log10(level / level.max()) > -SILENCE_DB
    snapped = []
    for word in _to_pauses(list(words), loud):
        first, last = int(word.start / FRAME_SECONDS), int(np.ceil(word.end / FRAME_SECONDS))
        span = np.flatnonzero(loud[max(first, 0):min(last, count)])
        if span.size:
            start = (max(first, 0) + span[0]) * FRAME_SECONDS
            end = (max(first, 0) + span[-1] + 1) * FRAME_SECONDS
            word = WordTime(word.word, max(word.start, start), min(word.end, end),
                            word.confidence, word.voice)
        snapped.append(word)
    return _grow_into_sound(snapped, loud, count)


#: A pause between words is at least this long...
MIN_PAUSE_SECONDS = 0.03
#: ...and moves a boundary between two words at most this far.
MAX_SNAP_SECONDS = 0.3


def _pauses(loud: np.ndarray) -> list[tuple[float, float]]:
    """The silent stretches of the clip (seconds), MIN_PAUSE_SECONDS or longer."""
    quiet = np.concatenate([[False], ~loud, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(quiet))
    runs = zip(edges[::2], edges[1::2], strict=False)
    return [(start * FRAME_SECONDS, end * FRAME_SECONDS) for start, end in runs
            if (end - start) * FRAME_SECONDS >= MIN_PAUSE_SECONDS]


def _to_pauses(words: list[WordTime], loud: np.ndarray) -> list[WordTime]:
    """Whisper puts the boundary between two words late or early by up to a few hundred ms,
    often with no gap at all; when there is a pause near it (and between the two words'
    other edges), the boundary is the pause: the first word ends where it starts, the next
    starts where it ends."""
    pauses = _pauses(loud)
    if not pauses:
        return words
    fixed = list(words)
    for index in range(len(fixed) - 1):
        before, after = fixed[index], fixed[index + 1]
        boundary = (before.end + after.start) / 2
        candidates = [(max(start - boundary, boundary - end, 0.0), start, end)
                      for start, end in pauses
                      if before.start < start and end < after.end]
        if not candidates:
            continue
        distance, start, end = min(candidates)
        if distance > MAX_SNAP_SECONDS:
            continue
        fixed[index] = WordTime(before.word, before.start, start, before.confidence,
                                before.voice)
        fixed[index + 1] = WordTime(after.word, end, after.end, after.confidence, after.voice)
    return fixed


#: How far a word's edge may grow into sound that Whisper left outside it.
MAX_GROW_SECONDS = 0.25


def _grow_into_sound(words: list[WordTime], loud: np.ndarray, count: int) -> list[WordTime]:
    """The other half of Whisper's error: a word that starts (ends) inside a run of sound
    begins earlier (ends later), as far as the sound goes, but never into its neighbours and
    at most MAX_GROW_SECONDS."""
    grown = list(words)
    reach = int(MAX_GROW_SECONDS / FRAME_SECONDS)
    for index, word in enumerate(grown):
        if word.confidence <= 0:
            continue
        floor = grown[index - 1].end if index else 0.0
        ceiling = grown[index + 1].start if index + 1 < len(grown) else count * FRAME_SECONDS
        first = int(round(word.start / FRAME_SECONDS))
        steps = 0
        while (first - 1 >= 0 and loud[first - 1] and steps < reach
               and (first - 1) * FRAME_SECONDS >= floor):
            first, steps = first - 1, steps + 1
        last = int(round(word.end / FRAME_SECONDS))
        steps = 0
        while (last < count and loud[last] and steps < reach
               and (last + 1) * FRAME_SECONDS <= ceiling):
            last, steps = last + 1, steps + 1
        grown[index] = WordTime(word.word, min(word.start, first * FRAME_SECONDS),
                                max(word.end, last * FRAME_SECONDS), word.confidence,
                                word.voice)
    return grown


# --- the output timeline ------------------------------------------------------------------------
@dataclass
class TimeMap:
    """Where a position of the audio before silence removal ends up after it: the kept
    ranges (in seconds of the input) in order; what falls in a removed gap moves to the gap's
    edge. An empty map is the identity."""

    kept: list[tuple[float, float]] = field(default_factory=list)

    def __call__(self, seconds: float) -> float:
        if not self.kept:
            return seconds
        starts = [start for start, _ in self.kept]
        index = bisect.bisect_right(starts, seconds) - 1
        before = sum(end - start for start, end in self.kept[:max(index, 0)])
        if index < 0:
            return 0.0
        start, end = self.kept[index]
        return before + min(seconds, end) - start


def shift_words(words: Sequence[WordTime], offset: float,
                mapping: Callable[[float], float] | None = None) -> list[WordTime]:
    """Chunk-local words on the output's timeline: moved by ``offset`` seconds, then through
    ``mapping`` (silence removal) when there is one."""
    moved = [word.shifted(offset) for word in words]
    if mapping is None:
        return moved
    return [WordTime(word.word, mapping(word.start), mapping(word.end), word.confidence,
                     word.voice) for word in moved]


# --- the pass itself ------------------------------------------------------------------------------
class Listener:
    """Hears chunks: speech recognition, then alignment to the source text. ``submit`` runs
    the pass on a thread of its own at a lower CPU priority (beside the next chunk's
    generation, like reference preparation); ``hear`` runs it now."""

    def __init__(self, transcriber: Transcriber, *,
                 lower_priority: Callable[[], None] | None = None):
        self.transcriber = transcriber
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tts-listen",
                                        initializer=lower_priority)

    def hear(self, samples: np.ndarray, sample_rate: int, text: str) -> Heard:
        recognition: Recognition = self.transcriber.recognise(samples, sample_rate)
        duration = len(samples) / sample_rate
        words = snap_to_sound(align(text, recognition.words, duration), samples, sample_rate)
        return Heard(words=words, recognised=recognition.text,
                     cer=round(cer(text, recognition.text), 4))

    def submit(self, samples: np.ndarray, sample_rate: int, text: str) -> Future[Heard]:
        return self._pool.submit(self.hear, samples, sample_rate, text)


def done(value: Heard) -> Future[Heard]:
    """A future that already holds ``value``."""
    future: Future[Heard] = Future()
    future.set_result(value)
    return future
