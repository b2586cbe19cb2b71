"""Reference clips with one defect each, made from espeak-ng speech with ffmpeg: noise, music-
like tones, clipping, long silence, a second voice, a cut mid-word; and the clean clip."""

from __future__ import annotations

import subprocess
from pathlib import Path

FIRST = "The old lighthouse keeper climbed the stairs every evening to light the lamp."
SECOND = "Bright autumn leaves covered the quiet path through the northern forest."


def _run(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args], check=True,
                   timeout=60)


def espeak_wav(text: str, path: Path, voice: str = "en") -> Path:
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), text], check=True, timeout=60)
    return path


def clean(folder: Path) -> Path:
    """Two sentences, one voice, about 9 s at 24 kHz."""
    a = espeak_wav(FIRST, folder / "a.wav")
    b = espeak_wav(SECOND, folder / "b.wav")
    target = folder / "clean.wav"
    _run("-i", str(a), "-i", str(b), "-filter_complex", "[0][1]concat=n=2:v=0:a=1",
         "-ar", "24000", "-ac", "1", str(target))
    return target


def defective(folder: Path, defect: str) -> Path:
    """The clean clip with ``defect``: noise, tones, clipping, silence, second_voice, cut."""
    source = clean(folder)
    target = folder / f"{defect}.wav"
    if defect == "noise":
        _run("-i", str(source), "-f", "lavfi", "-i",
             "anoisesrc=color=white:amplitude=0.08:sample_rate=24000", "-filter_complex",
             "[0][1]amix=inputs=2:duration=first:normalize=0", "-ar", "24000", str(target))
    elif defect == "tones":  # a held chord under the voice, like music
        _run("-i", str(source), "-f", "lavfi", "-i",
             "aevalsrc=0.08*sin(2*PI*220*t)+0.06*sin(2*PI*330*t)+0.05*sin(2*PI*440*t)"
             ":s=24000", "-filter_complex",
             "[0][1]amix=inputs=2:duration=first:normalize=0", "-ar", "24000", str(target))
    elif defect == "clipping":
        _run("-i", str(source), "-af", "volume=18dB", "-ar", "24000", "-c:a", "pcm_s16le",
             str(target))
    elif defect == "silence":  # 12 s of silence after 9 s of speech
        _run("-i", str(source), "-af", "apad=pad_dur=12", "-ar", "24000", str(target))
    elif defect == "second_voice":
        other = espeak_wav(SECOND, folder / "other.wav", voice="en+f2")
        first = espeak_wav(FIRST, folder / "first.wav")
        _run("-i", str(first), "-i", str(other), "-filter_complex",
             "[0][1]concat=n=2:v=0:a=1", "-ar", "24000", "-ac", "1", str(target))
    elif defect == "cut":  # starts 0.55 s in, inside "old", ends inside "forest"
        duration = float(subprocess.run(
            ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of",
             "default=nw=1:nk=1", str(source)], capture_output=True, text=True,
            check=True).stdout)
        _run("-i", str(source), "-af", f"atrim=start=0.55:end={duration - 0.45:.3f}",
             "-ar", "24000", str(target))
    else:
        raise ValueError(defect)
    return target
