"""Audio in and out: decode anything ffmpeg reads, encode the formats clients ask for."""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from pydub import AudioSegment

from .errors import InvalidReferenceAudio

SAMPLE_RATE = 24_000
DECODE_TIMEOUT_SECONDS = 60
#: The ffmpeg demuxers an upload may use: audio files and the containers that carry audio.
#: Playlists and indirections (hls, concat, image sequences...) are left out: an uploaded
#: HLS playlist would otherwise make ffmpeg open files on the server by path.
DEMUXERS = (
    "wav", "w64", "mp3", "flac", "ogg", "mov", "mp4", "m4a", "3gp", "3g2", "mj2", "matroska",
    "webm", "aac", "ac3", "eac3", "dts", "aiff", "caf", "amr", "amrnb", "amrwb", "ape", "asf",
    "au", "avi", "flv", "gsm", "mpeg", "mpegts", "tta", "wv",
)


@dataclass(frozen=True)
class OutputFormat:
    name: str
    content_type: str
    extension: str
    #: libsndfile's format and subtype, when libsndfile writes it.
    sf_format: str = ""
    sf_subtype: str = ""
    #: ffmpeg's codec and muxer arguments, for what it encodes (and for every stream).
    ffmpeg_args: tuple[str, ...] = ()


OUTPUT_FORMATS: dict[str, OutputFormat] = {
    "wav": OutputFormat("wav", "audio/wav", "wav", "WAV", "PCM_16"),
    "mp3": OutputFormat("mp3", "audio/mpeg", "mp3", "MP3", "MPEG_LAYER_III",
                        ("-c:a", "libmp3lame", "-b:a", "128k", "-f", "mp3")),
    "flac": OutputFormat("flac", "audio/flac", "flac", "FLAC", "PCM_16",
                         ("-c:a", "flac", "-f", "flac")),
    "ogg": OutputFormat("ogg", "audio/ogg", "ogg", "OGG", "OPUS",
                        ("-c:a", "libopus", "-b:a", "64k", "-page_duration", "200000",
                         "-f", "ogg")),
    "aac": OutputFormat("aac", "audio/aac", "aac",
                        ffmpeg_args=("-c:a", "aac", "-b:a", "128k", "-f", "adts")),
    #: Raw little-endian 16-bit mono samples at the model's rate (24 kHz), no header.
    "pcm": OutputFormat("pcm", "audio/pcm", "pcm"),
}


def ffmpeg_binary() -> str:
    path = shutil.which("ffmpeg")
    if path is None:  # an install problem, not the client's: surfaces as a 500 with a log line
        raise RuntimeError("ffmpeg is not installed; run scripts/install.sh "
                           "(or apt-get install ffmpeg)")
    return path


def decode(data: bytes, *, sample_rate: int = SAMPLE_RATE,
           max_seconds: float | None = None) -> np.ndarray:
    """Decode any audio ffmpeg understands to mono float32 at ``sample_rate``.

    At most ``max_seconds`` (+1 s, so callers can tell "too long") are decoded. The input goes
    through a file, not a pipe, because some containers (m4a with a trailing index) need to
    seek; the file lives in a temporary folder removed whatever happens.
    """
    if not data:
        raise InvalidReferenceAudio("The reference audio is empty; upload a recording.",
                                    code="empty_audio")
    cmd = [ffmpeg_binary(), "-nostdin", "-hide_banner", "-loglevel", "error",
           "-protocol_whitelist", "file", "-format_whitelist", ",".join(DEMUXERS)]
    with tempfile.TemporaryDirectory(prefix="tts-decode-") as folder:
        source = Path(folder) / "input"
        source.write_bytes(data)
        cmd += ["-i", str(source), "-map", "0:a:0", "-ac", "1", "-ar", str(sample_rate)]
        if max_seconds is not None:
            cmd += ["-t", f"{max_seconds + 1:.3f}"]
        cmd += ["-f", "f32le", "pipe:1"]
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=DECODE_TIMEOUT_SECONDS,
                                  check=False)
        except subprocess.TimeoutExpired:
            raise InvalidReferenceAudio("Decoding the reference audio took too long; send a "
                                        "short clip in a common format.",
                                        code="undecodable_audio") from None
    samples = np.frombuffer(proc.stdout, dtype=np.float32)
    if proc.returncode == 0 and samples.size == 0:  # a valid file with nothing in it
        raise InvalidReferenceAudio(
            "The reference audio is empty: the file decodes but holds no samples (0 s of "
            "sound). Send a recording of 3-12 s of one speaker.", code="empty_audio")
    if proc.returncode != 0 or samples.size == 0:
        raise InvalidReferenceAudio(
            "The reference audio could not be decoded; send wav, mp3, flac, ogg/opus, "
            "m4a/aac or webm audio.",
            code="undecodable_audio",
        )
    return samples.copy()


def to_pcm16(samples: np.ndarray) -> bytes:
    """The one float → 16-bit quantiser: every lossless format (pcm, wav, flac; whole or
    streamed) carries exactly these samples, so they decode to the same values."""
    return (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()


def encode(samples: np.ndarray, sample_rate: int, fmt: str) -> bytes:
    """Encode mono float samples to ``fmt`` (one of OUTPUT_FORMATS)."""
    spec = OUTPUT_FORMATS[fmt]
    if fmt == "pcm":
        return to_pcm16(samples)
    if not spec.sf_format:
        return _ffmpeg_encode(to_pcm16(samples), sample_rate, spec)
    if spec.sf_subtype == "PCM_16":  # quantised here, not by libsndfile's own rounding
        samples = np.frombuffer(to_pcm16(samples), dtype="<i2")
    else:
        samples = np.clip(samples, -1.0, 1.0)
    buffer = io.BytesIO()
    sf.write(buffer, samples, sample_rate, format=spec.sf_format, subtype=spec.sf_subtype)
    return buffer.getvalue()


def unsupported_output_formats() -> dict[str, str]:
    """Output formats this libsndfile cannot encode, with the reason (a start-up check: a
    libsndfile built without mp3 or opus, or an ffmpeg without an encoder, would otherwise fail
    each such request). Streams are encoded by ffmpeg, so its encoder is tried as well."""
    silence = np.zeros(SAMPLE_RATE // 10, dtype=np.float32)
    problems = {}
    for name, spec in OUTPUT_FORMATS.items():
        try:
            encode(silence, SAMPLE_RATE, name)
            if spec.sf_format and spec.ffmpeg_args:
                _ffmpeg_encode(to_pcm16(silence), SAMPLE_RATE, spec)
        except Exception as exc:  # noqa: BLE001 - any failure means the format is unusable
            problems[name] = f"{type(exc).__name__}: {exc}"
    return problems


def pcm_input_args(sample_rate: int) -> list[str]:
    return [ffmpeg_binary(), "-nostdin", "-hide_banner", "-loglevel", "error",
            "-f", "s16le", "-ar", str(sample_rate), "-ac", "1", "-i", "pipe:0"]


def _ffmpeg_encode(pcm: bytes, sample_rate: int, spec: OutputFormat) -> bytes:
    proc = subprocess.run([*pcm_input_args(sample_rate), *spec.ffmpeg_args, "pipe:1"],
                          input=pcm, capture_output=True, timeout=DECODE_TIMEOUT_SECONDS,
                          check=False)
    if proc.returncode != 0:  # an install problem (codec missing), not the client's
        raise RuntimeError(f"ffmpeg could not encode {spec.name}: "
                           f"{proc.stderr.decode(errors='replace')[-300:]}")
    return proc.stdout


def to_segment(samples: np.ndarray, sample_rate: int) -> AudioSegment:
    return AudioSegment(to_pcm16(samples), frame_rate=sample_rate, sample_width=2, channels=1)


def from_segment(segment: AudioSegment) -> np.ndarray:
    pcm = np.frombuffer(segment.raw_data, dtype="<i2")
    return (pcm.astype(np.float32) / 32768.0).copy()


def seconds(samples: np.ndarray, sample_rate: int) -> float:
    return float(len(samples)) / sample_rate
