"""Speech material for the tests: sentences, long clips, every input format, tones."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

from tts.engine import audio

from .audio import convert, speak

SR = audio.SAMPLE_RATE


#: Four sentences; Whisper tiny.en hears the marked words reliably in espeak-ng's voice.
SENTENCES = [
    "One morning the farmer walked slowly to the market.",
    "He bought apples and fresh bread for his family.",
    "Later that evening it started to rain very heavily.",
    "Everyone stayed inside and read books by the fire.",
]


FIRST_WORDS = {"morning", "farmer", "market"}  # from sentence 1, which the clip keeps


LAST_WORDS = {"evening", "rain", "heavily", "everyone", "inside"}  # sentences 3-4, cut away


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z']+", text.lower()))


def silence(seconds: float, rate: int = SR) -> np.ndarray:
    return np.zeros(int(seconds * rate), np.float32)


def join_speech(parts: list[np.ndarray | float], rate: int) -> np.ndarray:
    """Concatenate recordings and pauses (a float is that many seconds of silence)."""
    return np.concatenate([silence(p, rate) if isinstance(p, float) else p for p in parts])


def write_wav(path: Path, samples: np.ndarray, rate: int) -> Path:
    sf.write(path, samples, rate, subtype="PCM_16")
    return path


def make_sentences(folder: Path) -> list[np.ndarray]:
    """Each of SENTENCES spoken by espeak-ng, at 22.05 kHz."""
    recordings = []
    for i, sentence in enumerate(SENTENCES):
        samples, rate = sf.read(speak(sentence, folder / f"sentence{i}.wav"), dtype="float32")
        assert rate == 22050
        recordings.append(samples)
    return recordings


def make_long_speech(folder: Path) -> Path:
    """About 17 s: the four sentences with 1.5 s pauses. Upstream keeps the first two."""
    sentences = make_sentences(folder)
    parts: list[np.ndarray | float] = []
    for sentence in sentences:
        parts += [sentence, 1.5]
    return write_wav(folder / "long.wav", join_speech(parts[:-1], 22050), 22050)


#: name -> (file name, ffmpeg output arguments). Rates, channel counts and sample formats vary
#: on purpose: the decoder must bring every one to mono float32 at 24 kHz.
INPUT_FORMATS: dict[str, tuple[str, tuple[str, ...]]] = {
    "wav-pcm16-22k-mono": ("pcm16.wav", ("-c:a", "pcm_s16le")),
    "wav-pcm32-48k-stereo": ("pcm32.wav", ("-ac", "2", "-ar", "48000", "-c:a", "pcm_s32le")),
    "wav-float-8k-mono": ("float8k.wav", ("-ar", "8000", "-c:a", "pcm_f32le")),
    "wav-6ch-48k": ("six.wav", ("-ac", "6", "-ar", "48000")),
    "mp3-44k-stereo": ("speech.mp3", ("-ac", "2", "-ar", "44100", "-c:a", "libmp3lame",
                                      "-b:a", "96k")),
    "flac-96k": ("speech.flac", ("-ar", "96000", "-c:a", "flac")),
    "ogg-vorbis-stereo": ("vorbis.ogg", ("-ac", "2", "-ar", "44100", "-c:a", "libvorbis")),
    "ogg-opus-48k": ("opus.ogg", ("-ar", "48000", "-c:a", "libopus", "-b:a", "48k")),
    "m4a-aac-stereo": ("speech.m4a", ("-ac", "2", "-ar", "44100", "-c:a", "aac", "-b:a", "96k")),
    "aac-adts": ("speech.aac", ("-c:a", "aac", "-b:a", "64k")),
    "wav-mulaw-8k": ("mulaw.wav", ("-ar", "8000", "-c:a", "pcm_mulaw")),
    "webm-opus": ("speech.webm", ("-c:a", "libopus", "-b:a", "48k")),
}


def make_input_formats(source: Path, folder: Path) -> dict[str, Path]:
    """Every input format of INPUT_FORMATS, converted with ffmpeg from ``source``."""
    folder.mkdir(parents=True, exist_ok=True)
    return {name: convert(source, folder / file_name, *args)
            for name, (file_name, args) in INPUT_FORMATS.items()}


def ffmpeg_make(target: Path, *args: str) -> Path:
    """Run ffmpeg with arbitrary inputs (lavfi sources, concat) into ``target``."""
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args, str(target)],
                   check=True)
    return target


def tone(seconds: float, hz: float = 440.0, level: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * audio.SAMPLE_RATE)) / audio.SAMPLE_RATE
    return (level * np.sin(2 * np.pi * hz * t)).astype(np.float32)

