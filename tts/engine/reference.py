"""Reference clip preparation: validate, clip to about 12 s at silences, trim, as upstream does.

Upstream's ``preprocess_ref_audio_text`` does this through a temp file it never deletes and an
unbounded cache; here the same rules run in memory, report what was kept, and keep the
transcript in step with the audio that was kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydub import AudioSegment, silence

from . import audio
from .errors import InvalidReferenceAudio

#: Upstream's clipping passes: (min silence ms, threshold dBFS); 1 s kept around speech.
CLIP_PASSES = ((1000, -50), (100, -40))
KEEP_SILENCE_MS = 1000
SILENCE_THRESHOLD_DBFS = -50
EDGE_THRESHOLD_DBFS = -42
TAIL_SILENCE_MS = 50


@dataclass(frozen=True)
class ClipInfo:
    original_seconds: float
    kept_start: float
    kept_end: float
    #: True when speech was cut away (not merely silences shortened).
    clipped: bool


@dataclass(frozen=True)
class PreparedReference:
    samples: np.ndarray  # mono float32 at ``sample_rate``, ready for the model
    sample_rate: int
    ref_text: str
    clip: ClipInfo
    #: Whether the transcript came from speech recognition.
    transcribed: bool = False

    @property
    def seconds(self) -> float:
        return audio.seconds(self.samples, self.sample_rate)

    @property
    def nbytes(self) -> int:
        return int(self.samples.nbytes) + len(self.ref_text.encode("utf-8"))


def _padded_ranges(segment: AudioSegment, min_silence_ms: int, threshold: int) -> list[list[int]]:
    """Non-silent ranges padded by KEEP_SILENCE_MS, split where they overlap (as pydub's
    ``split_on_silence``), but as offsets so we can say what was kept."""
    ranges = [[start - KEEP_SILENCE_MS, end + KEEP_SILENCE_MS] for start, end in
              silence.detect_nonsilent(segment, min_silence_ms, threshold, seek_step=10)]
    for first, second in zip(ranges, ranges[1:], strict=False):
        if second[0] < first[1]:
            first[1] = second[0] = (first[1] + second[0]) // 2
    return [[max(start, 0), min(end, len(segment))] for start, end in ranges]


def _take_until(ranges: list[list[int]], limit_ms: int) -> list[list[int]]:
    """Whole ranges from the start while upstream's rule allows (over half the limit and the
    next one would pass it: stop)."""
    kept, total = [], 0
    for start, end in ranges:
        if total > limit_ms // 2 and total + (end - start) > limit_ms:
            break
        kept.append([start, end])
        total += end - start
    return kept


def clip_reference(samples: np.ndarray, sample_rate: int,
                   limit_seconds: float = 12.0) -> tuple[np.ndarray, ClipInfo]:
    """Clip to at most ``limit_seconds`` at silences, trim edges, add 50 ms of tail silence."""
    from f5_tts.infer.utils_infer import remove_silence_edges

    segment = audio.to_segment(samples, sample_rate)
    limit_ms = int(limit_seconds * 1000)
    all_ranges: list[list[int]] = []
    kept: list[list[int]] = []
    for min_silence_ms, threshold in CLIP_PASSES:
        all_ranges = _padded_ranges(segment, min_silence_ms, threshold)
        kept = _take_until(all_ranges, limit_ms)
        if sum(end - start for start, end in kept) <= limit_ms:
            break
    # No usable silence: hard cut, as upstream's third step.
    overflow = sum(end - start for start, end in kept) - limit_ms
    while overflow > 0 and kept:
        start, end = kept[-1]
        cut = min(overflow, end - start)
        kept[-1][1] = end - cut
        overflow -= cut
        if kept[-1][1] <= start:
            kept.pop()
    joined = sum((segment[start:end] for start, end in kept), AudioSegment.silent(0, sample_rate))
    joined = remove_silence_edges(joined, EDGE_THRESHOLD_DBFS)
    joined += AudioSegment.silent(duration=TAIL_SILENCE_MS, frame_rate=sample_rate)
    info = ClipInfo(
        original_seconds=round(audio.seconds(samples, sample_rate), 3),
        kept_start=round(kept[0][0] / 1000, 3) if kept else 0.0,
        kept_end=round(kept[-1][1] / 1000, 3) if kept else 0.0,
        clipped=bool(kept) and kept[-1][1] < all_ranges[-1][1],
    )
    return audio.from_segment(joined), info


def validate_and_clip(samples: np.ndarray, sample_rate: int, *, min_seconds: float,
                      max_seconds: float, clip_seconds: float) -> tuple[np.ndarray, ClipInfo]:
    """Reject clips that are too short, too long or silent; clip and trim the rest."""
    duration = audio.seconds(samples, sample_rate)
    if duration > max_seconds:
        raise InvalidReferenceAudio(
            f"The reference audio is longer than {max_seconds:g} s; send a clip of 3-12 s of "
            "one speaker (longer clips are cut to about 12 s anyway).",
            code="reference_too_long")
    if duration < min_seconds:
        raise InvalidReferenceAudio(
            f"The reference audio is {duration:.2f} s long; send at least {min_seconds:g} s "
            "(3-12 s of clear speech works best).", code="reference_too_short")
    peak_dbfs = 20 * np.log10(max(float(np.max(np.abs(samples))), 1e-10))
    if peak_dbfs < SILENCE_THRESHOLD_DBFS:
        raise InvalidReferenceAudio(
            "The reference audio is silent (or nearly: its peak is "
            f"{peak_dbfs:.0f} dBFS); send a recording of someone speaking.",
            code="reference_silent")
    clipped, info = clip_reference(samples, sample_rate, clip_seconds)
    speech = audio.seconds(clipped, sample_rate) - TAIL_SILENCE_MS / 1000
    if speech < min_seconds:
        raise InvalidReferenceAudio(
            f"The reference audio holds only {max(speech, 0):.2f} s of sound above "
            f"{EDGE_THRESHOLD_DBFS} dBFS; send at least {min_seconds:g} s of clear speech.",
            code="reference_too_short")
    return clipped, info


def normalize_ref_text(text: str) -> str:
    """End the transcript with sentence punctuation and a space, as upstream does."""
    text = text.strip()
    if text.endswith("。"):
        return text
    return text + " " if text.endswith(".") else text + ". "
