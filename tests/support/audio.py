"""Real speech from espeak-ng and conversions with ffmpeg (both Debian packages the project
installs)."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

#: What the reference clips of the tests say.
REF_TEXT = "Hello there, this is a short reference clip for testing the server."
SAMPLE_RATE = 24_000


def speak(text: str, path: Path, *, speed: int = 160, pitch: int = 50,
          sample_rate: int | None = None) -> Path:
    """Speech from espeak-ng as mono 16-bit WAV (22.05 kHz, or ``sample_rate``)."""
    if sample_rate is None:
        subprocess.run(["espeak-ng", "-s", str(speed), "-p", str(pitch), "-w", str(path), text],
                       check=True, timeout=60)
        return path
    with tempfile.TemporaryDirectory(prefix="tts-speak-") as folder:
        raw = speak(text, Path(folder) / "raw.wav", speed=speed, pitch=pitch)
        return convert(raw, path, "-ac", "1", "-ar", str(sample_rate), "-c:a", "pcm_s16le")


def convert(source: Path, target: Path, *args: str) -> Path:
    """ffmpeg conversion, e.g. convert(wav, out.m4a, "-ac", "2", "-ar", "44100")."""
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(source), *args,
                    str(target)], check=True, timeout=60)
    return target
