"""Reference clip preparation: validate, clip to about 12 s at silences, trim, as upstream does.

Upstream's ``preprocess_ref_audio_text`` does this through a temp file it never deletes and an
unbounded cache; here the same rules run in memory, report what was kept, and keep the
transcript in step with the audio that was kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pydub import AudioSegment, silence

from . import audio
from .config import EngineConfig
from .errors import InvalidReferenceAudio

#: Upstream's clipping passes: (min silence ms, threshold dBFS); 1 s kept around speech.
CLIP_PASSES = ((1000, -50), (100, -40))
KEEP_SILENCE_MS = 1000
SILENCE_THRESHOLD_DBFS = -50
EDGE_THRESHOLD_DBFS = -42
TAIL_SILENCE_MS = 50
#: Frame over which loudness is measured to tell "effectively silent".
SILENCE_FRAME_SECONDS = 0.02


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
    #: The kept clip's speaker voiceprint (tts.engine.voiceprint), once computed.
    voiceprint: np.ndarray | None = field(default=None, compare=False, repr=False)
    #: The uploaded clip's report (tts.engine.inspection), when it was made from an upload.
    report: dict | None = field(default=None, compare=False, repr=False)

    @property
    def seconds(self) -> float:
        return audio.seconds(self.samples, self.sample_rate)

    @property
    def nbytes(self) -> int:
        return int(self.samples.nbytes) + len(self.ref_text.encode("utf-8")) + (
            int(self.voiceprint.nbytes) if self.voiceprint is not None else 0)


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
    lead_ms = silence.detect_leading_silence(joined, silence_threshold=EDGE_THRESHOLD_DBFS)
    trimmed = remove_silence_edges(joined, EDGE_THRESHOLD_DBFS)
    # Where the trimmed audio starts and ends in the upload (edge trimming included).
    kept_start = _original_offset(kept, lead_ms, at_end=False)
    kept_end = (_original_offset(kept, lead_ms + len(trimmed), at_end=True) if len(trimmed)
                else kept_start)
    trimmed += AudioSegment.silent(duration=TAIL_SILENCE_MS, frame_rate=sample_rate)
    info = ClipInfo(
        original_seconds=round(audio.seconds(samples, sample_rate), 3),
        kept_start=round(kept_start / 1000, 3),
        kept_end=round(kept_end / 1000, 3),
        clipped=bool(kept) and kept[-1][1] < all_ranges[-1][1],
    )
    return audio.from_segment(trimmed), info


def _original_offset(kept: list[list[int]], joined_ms: int, *, at_end: bool) -> int:
    """Map a position in the joined ranges back to a position in the original audio (a
    position on the seam of two ranges is the end of the first for an end, else the start of
    the second)."""
    for start, end in kept:
        length = end - start
        if joined_ms < length or (at_end and joined_ms == length):
            return start + joined_ms
        joined_ms -= length
    return kept[-1][1] if kept else 0


def _loudest_frame_dbfs(samples: np.ndarray, sample_rate: int) -> float:
    """Loudness (RMS, dBFS) of the loudest 20 ms frame. Unlike the peak, stray spikes in
    faint hiss do not make a recording of silence count as sound."""
    frame = max(int(sample_rate * SILENCE_FRAME_SECONDS), 1)
    usable = max(len(samples) // frame, 1) * frame
    padded = np.zeros(usable, dtype=np.float64)
    padded[: min(len(samples), usable)] = samples[:usable]
    rms = np.sqrt(np.mean(padded.reshape(-1, frame) ** 2, axis=1))
    return 20 * float(np.log10(max(float(rms.max()), 1e-10)))


def validate_and_clip(samples: np.ndarray, sample_rate: int, *, min_seconds: float,
                      max_seconds: float, clip_seconds: float) -> tuple[np.ndarray, ClipInfo]:
    """Reject clips that are too short, too long or silent; clip and trim the rest."""
    check_reference(samples, sample_rate, min_seconds=min_seconds, max_seconds=max_seconds)
    clipped, info = clip_reference(samples, sample_rate, clip_seconds)
    speech = audio.seconds(clipped, sample_rate) - TAIL_SILENCE_MS / 1000
    if speech < min_seconds:
        raise InvalidReferenceAudio(
            f"The reference audio holds only {max(speech, 0):.2f} s of sound above "
            f"{EDGE_THRESHOLD_DBFS} dBFS; send at least {min_seconds:g} s of clear speech "
            "(a louder recording, if it is quiet).",
            code="reference_too_short")
    return clipped, info


def check_reference(samples: np.ndarray, sample_rate: int, *, min_seconds: float,
                    max_seconds: float) -> None:
    """Reject clips that are too short, too long or silent (cheap, and free of torch)."""
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
    loudest_dbfs = _loudest_frame_dbfs(samples, sample_rate)
    if loudest_dbfs < SILENCE_THRESHOLD_DBFS:
        raise InvalidReferenceAudio(
            "The reference audio is silent (or nearly: its loudest moment is "
            f"{loudest_dbfs:.0f} dBFS); send a recording of someone speaking.",
            code="reference_silent")


def normalize_ref_text(text: str) -> str:
    """End the transcript with sentence punctuation and a space, as upstream does."""
    text = text.strip()
    if text.endswith("。"):
        return text
    return text + " " if text.endswith(".") else text + ". "


def decode_reference(data: bytes, config: EngineConfig) -> tuple[np.ndarray, ClipInfo]:
    """Decode an uploaded reference and validate and clip it under ``config``'s limits
    (InvalidReferenceAudio when it cannot serve)."""
    clipped, clip, _ = decode_reference_whole(data, config)
    return clipped, clip


def decode_reference_whole(data: bytes, config: EngineConfig
                           ) -> tuple[np.ndarray, ClipInfo, np.ndarray]:
    """As ``decode_reference``, with the whole decoded upload too (for its report)."""
    samples = audio.decode(data, sample_rate=audio.SAMPLE_RATE,
                           max_seconds=config.max_ref_upload_seconds)
    clipped, clip = validate_and_clip(samples, audio.SAMPLE_RATE,
                                      min_seconds=config.min_ref_seconds,
                                      max_seconds=config.max_ref_upload_seconds,
                                      clip_seconds=config.max_ref_clip_seconds)
    return clipped, clip, samples


def check_upload(data: bytes, config: EngineConfig) -> None:
    """Whether an upload can serve as a reference, decided before it is queued: it decodes,
    and it is neither too short, too long nor silent."""
    samples = audio.decode(data, sample_rate=audio.SAMPLE_RATE,
                           max_seconds=config.max_ref_upload_seconds)
    check_reference(samples, audio.SAMPLE_RATE, min_seconds=config.min_ref_seconds,
                    max_seconds=config.max_ref_upload_seconds)
