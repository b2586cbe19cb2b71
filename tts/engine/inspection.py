"""The reference report: what is wrong with a reference clip, before anyone spends an hour
generating with it.

Measured on the clip as uploaded (mono, 24 kHz) and on the part kept: duration kept, speech
ratio (webrtcvad), integrated loudness (ITU-R BS.1770 via pyloudnorm), peak and the share of
clipped samples, a signal-to-noise estimate (loud frames against quiet ones), sustained tones
(music, hum), whether more than one speaker is likely (voiceprints of the clip's 1.6 s windows
against their mean), and whether the clip starts or ends inside a word (sound at its edges).
Each finding has a severity (``info`` < ``warning`` < ``severe``) and a sentence saying what to
do. Thresholds were set on espeak-ng speech with ffmpeg-made defects (tests/engine/
test_inspection.py); they are deliberately loose: a warning, not a verdict.
"""

from __future__ import annotations

from dataclasses import dataclass

import librosa
import numpy as np
import pyloudnorm
import webrtcvad

from .reference import ClipInfo
from .voiceprint import SAMPLE_RATE as VOICE_RATE
from .voiceprint import SpeakerEncoder

SEVERITIES = ("info", "warning", "severe")
#: Analysis frame (webrtcvad takes 10, 20 or 30 ms).
FRAME_SECONDS = 0.03
#: Samples at or above this magnitude count as clipped.
CLIP_LEVEL = 0.99
#: Two windows of the clip whose voiceprints are less alike than this: another voice, likely.
OTHER_SPEAKER_SIMILARITY = 0.62
#: A frequency that stays this far (dB) above the frame's median in this share of the voiced
#: frames is a sustained tone (speech's harmonics move with its pitch).
TONE_DB = 25.0
TONE_SHARE = 0.9


@dataclass(frozen=True)
class Finding:
    code: str
    severity: str
    detail: str

    def as_dict(self) -> dict:
        return {"code": self.code, "severity": self.severity, "detail": self.detail}


def _frames(samples: np.ndarray, rate: int) -> np.ndarray:
    size = int(rate * FRAME_SECONDS)
    count = len(samples) // size
    return samples[:count * size].reshape(count, size) if count else np.zeros((0, size))


def _db(power: float) -> float:
    return 10.0 * float(np.log10(max(power, 1e-12)))


def voiced_frames(samples: np.ndarray, rate: int, aggressiveness: int = 2) -> np.ndarray:
    """Per 30 ms frame, whether webrtcvad hears speech in it (at 16 kHz)."""
    pcm = librosa.resample(np.asarray(samples, dtype=np.float32), orig_sr=rate,
                           target_sr=VOICE_RATE)
    pcm16 = (np.clip(pcm, -1, 1) * 32767).astype(np.int16)
    vad = webrtcvad.Vad(aggressiveness)
    size = int(VOICE_RATE * FRAME_SECONDS)
    return np.array([vad.is_speech(pcm16[i:i + size].tobytes(), VOICE_RATE)
                     for i in range(0, len(pcm16) - size + 1, size)], dtype=bool)


def loudness_lufs(samples: np.ndarray, rate: int) -> float | None:
    """Integrated loudness (LUFS); None for silence or a clip under 0.4 s."""
    if len(samples) < 0.4 * rate:
        return None
    value = pyloudnorm.Meter(rate).integrated_loudness(np.asarray(samples, dtype=np.float64))
    return round(float(value), 1) if np.isfinite(value) else None


def snr_db(frame_power: np.ndarray) -> float | None:
    """Loud frames (90th percentile) against quiet ones (10th): a floor of noise, hum or
    music under the speech narrows it; clean speech with pauses scores high (capped at 60)."""
    if len(frame_power) < 10:
        return None
    signal, noise = np.percentile(frame_power, 90), np.percentile(frame_power, 10)
    return round(min(_db(signal) - _db(noise), 60.0), 1)


def tone_share(samples: np.ndarray, rate: int) -> float:
    """The largest share of sounding frames in which one frequency stands far above the rest
    of its frame: near 1 for a held tone or hum, low for speech."""
    n_fft = 2048
    hop = n_fft // 2
    if len(samples) < n_fft * 4:
        return 0.0
    frames = np.lib.stride_tricks.sliding_window_view(samples, n_fft)[::hop]
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=1)) ** 2
    spectrum = spectrum[:, 4:]  # below ~50 Hz: not audible tones
    energy = spectrum.sum(axis=1)
    sounding = energy > energy.max() * 1e-4
    if sounding.sum() < 4:
        return 0.0
    spectrum = spectrum[sounding]
    median = np.median(spectrum, axis=1, keepdims=True) + 1e-20
    strong = 10 * np.log10(spectrum / median + 1e-20) > TONE_DB
    return round(float(strong.mean(axis=0).max()), 3)


def speaker_spread(encoder: SpeakerEncoder, samples: np.ndarray,
                   rate: int) -> tuple[float | None, int]:
    """The least similarity between any two 1.6 s windows of the clip's speech (one a
    second), and how many windows there were (None: too little speech to compare)."""
    wav = encoder.prepare(samples, rate)
    windows = encoder.segments(wav, rate=1.0)
    if len(windows) < 3:
        return None, len(windows)
    unit = windows / np.maximum(np.linalg.norm(windows, axis=1, keepdims=True), 1e-9)
    return round(float((unit @ unit.T).min()), 4), len(windows)


def edge_sound(samples: np.ndarray, rate: int, loud_db: float,
               noise_db: float) -> tuple[bool, bool]:
    """Whether the clip starts and ends in sound nearly as loud as its speech and well above
    its background (a word cut)."""
    edge = int(rate * 0.02)
    if len(samples) < 4 * edge:
        return False, False
    floor = max(loud_db - 15.0, noise_db + 10.0)

    def loud(part: np.ndarray) -> bool:
        return _db(float(np.mean(part.astype(np.float64) ** 2))) > max(floor, -45.0)

    return loud(samples[:edge]), loud(samples[-edge:])


def inspect_reference(samples: np.ndarray, rate: int, clip: ClipInfo,
                      encoder: SpeakerEncoder | None = None) -> dict:
    """The report of a decoded upload ``samples`` (mono, ``rate``) of which ``clip`` says what
    was kept: measures, and findings worst first."""
    samples = np.asarray(samples, dtype=np.float32)
    frames = _frames(samples, rate)
    power = (frames.astype(np.float64) ** 2).mean(axis=1) if len(frames) else np.zeros(0)
    voiced = voiced_frames(samples, rate)
    speech_ratio = round(float(voiced.mean()), 3) if len(voiced) else 0.0
    peak = float(np.max(np.abs(samples))) if len(samples) else 0.0
    clipped_share = round(float(np.mean(np.abs(samples) >= CLIP_LEVEL)), 5) if len(samples) \
        else 0.0
    loud_db = _db(float(np.percentile(power, 90))) if len(power) else -120.0
    noise_db = _db(float(np.percentile(power, 10))) if len(power) else -120.0
    starts, ends = edge_sound(samples, rate, loud_db, noise_db)
    spread, windows = (speaker_spread(encoder, samples, rate) if encoder is not None
                       else (None, 0))
    report = {
        "seconds": round(clip.original_seconds, 2),
        "kept_seconds": round(clip.kept_end - clip.kept_start, 2),
        "speech_ratio": speech_ratio,
        "loudness_lufs": loudness_lufs(samples, rate),
        "peak_dbfs": round(20 * float(np.log10(max(peak, 1e-6))), 1),
        "clipping_share": clipped_share,
        "snr_db": snr_db(power),
        "tone_share": tone_share(samples, rate),
        "speaker_consistency": spread,
        "cut_at_start": starts,
        "cut_at_end": ends,
    }
    findings = _findings(report, clip, windows)
    findings.sort(key=lambda finding: -SEVERITIES.index(finding.severity))
    report["findings"] = [finding.as_dict() for finding in findings]
    report["severity"] = findings[0].severity if findings else "ok"
    return report


def _findings(report: dict, clip: ClipInfo, windows: int) -> list[Finding]:
    found: list[Finding] = []
    if clip.clipped:
        found.append(Finding("clip_shortened", "warning", (
            f"Only {report['kept_seconds']:.1f} s of the {report['seconds']:.1f} s clip are "
            "used (the model takes about 12 s); send the 5-12 s that sound most like the "
            "voice you want, so that the transcript matches what is kept.")))
    elif report["kept_seconds"] < 4:
        found.append(Finding("short_clip", "info", (
            f"The clip holds {report['kept_seconds']:.1f} s of sound; 5-12 s of speech clone "
            "a voice more faithfully.")))
    ratio = report["speech_ratio"]
    if ratio < 0.5:
        found.append(Finding("mostly_silence", "severe" if ratio < 0.25 else "warning", (
            f"Only {ratio:.0%} of the clip is speech; trim the silences and send a clip that "
            "is mostly someone speaking.")))
    share = report["clipping_share"]
    if share > 0.001:
        found.append(Finding("clipping", "severe" if share > 0.01 else "warning", (
            f"{share:.1%} of the samples are clipped (at full scale): the voice is distorted; "
            "record again with lower input gain.")))
    lufs = report["loudness_lufs"]
    if lufs is not None and lufs < -40:
        found.append(Finding("quiet", "warning", (
            f"The clip is quiet ({lufs:.0f} LUFS); record closer to the microphone or with "
            "more gain (about -23 to -16 LUFS is usual for speech).")))
    snr = report["snr_db"]
    tone = report["tone_share"]
    if tone >= TONE_SHARE:
        found.append(Finding("music_or_tone", "severe", (
            "A sustained tone or music plays under the voice; record without music or hum "
            "(the model copies the background along with the voice).")))
    elif snr is not None and snr < 20:
        found.append(Finding("noisy", "severe" if snr < 12 else "warning", (
            f"The background is loud (signal-to-noise about {snr:.0f} dB); record in a quieter "
            "place or denoise the clip (the model copies the noise along with the voice).")))
    spread = report["speaker_consistency"]
    if spread is not None and spread < OTHER_SPEAKER_SIMILARITY:
        found.append(Finding("multiple_speakers", "severe", (
            f"Part of the clip sounds like another voice (least similarity of its {windows} "
            f"windows {spread:.2f}); trim the clip to one speaker.")))
    if report["cut_at_start"] or report["cut_at_end"]:
        where = " and ".join(edge for edge, cut in (("starts", report["cut_at_start"]),
                                                    ("ends", report["cut_at_end"])) if cut)
        found.append(Finding("cut_mid_word", "warning", (
            f"The clip {where} in the middle of a sound, probably a word cut; start and end "
            "it in a short silence so that the transcript matches the audio.")))
    return found

