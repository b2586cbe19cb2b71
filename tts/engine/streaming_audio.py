"""Encoders that turn a stream of samples into the bytes of one growing audio file.

Each emits its output through a callback: the whole is a valid file once ``close`` returns.
WAV gets a header whose sizes mean "until the end of the stream" (readers that trust it, like
Python's ``wave``, see an unknown, huge length); pcm is bare samples; mp3, ogg and aac go
through one ffmpeg process per stream and come out as they are encoded. FLAC's header states
the number of samples, which a pipe cannot go back and fill in, so a FLAC stream is held and
encoded whole at the end: the same bytes as the whole-file reply, and its first byte comes
when the last sample is made.
"""

from __future__ import annotations

import struct
import subprocess
import threading
from collections.abc import Callable

import numpy as np

from .audio import OUTPUT_FORMATS, encode, pcm_input_args, to_pcm16

Emit = Callable[[bytes], None]
#: Sizes in a streaming WAV header: unknown length, as far as the fields allow.
UNKNOWN_SIZE = 0xFFFFFFFF
STREAMABLE_FORMATS = ("wav", "pcm", "mp3", "ogg", "aac", "flac")
#: Formats whose header must state the length: a stream of them is emitted whole at the end.
WHOLE_FILE_FORMATS = ("flac",)


def wav_stream_header(sample_rate: int, channels: int = 1, bits: int = 16) -> bytes:
    block = channels * bits // 8
    return (b"RIFF" + struct.pack("<I", UNKNOWN_SIZE) + b"WAVE"
            + b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, sample_rate,
                                    sample_rate * block, block, bits)
            + b"data" + struct.pack("<I", UNKNOWN_SIZE - 36))


class PcmStreamEncoder:
    """Raw s16le, optionally behind a streaming WAV header."""

    def __init__(self, sample_rate: int, emit: Emit, *, wav: bool):
        self._emit = emit
        if wav:
            emit(wav_stream_header(sample_rate))

    def write(self, samples: np.ndarray) -> None:
        if len(samples):
            self._emit(to_pcm16(samples))

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


class FfmpegStreamEncoder:
    """One ffmpeg process: samples in on stdin, encoded bytes out of stdout as they come
    (a reader thread hands them to ``emit``, so neither pipe can fill up and stall)."""

    def __init__(self, fmt: str, sample_rate: int, emit: Emit):
        spec = OUTPUT_FORMATS[fmt]
        self._process = subprocess.Popen(
            [*pcm_input_args(sample_rate), *spec.ffmpeg_args, "-flush_packets", "1", "pipe:1"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self._emit = emit
        self._reader = threading.Thread(target=self._read, name=f"encode-{fmt}", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        stdout = self._process.stdout
        while piece := stdout.read1(65536):
            self._emit(piece)

    def write(self, samples: np.ndarray) -> None:
        if len(samples):
            self._process.stdin.write(to_pcm16(samples))
            self._process.stdin.flush()

    def close(self) -> None:
        """Finish the file: every byte has been emitted when this returns."""
        self._process.stdin.close()
        self._reader.join()
        self._process.wait()

    def abort(self) -> None:
        self._process.kill()
        self._process.wait()
        self._reader.join()


class WholeFileStreamEncoder:
    """Holds the samples and emits the whole file, encoded as a whole-file reply is, at
    ``close``: for formats whose header states the length (FLAC's total sample count)."""

    def __init__(self, fmt: str, sample_rate: int, emit: Emit):
        self._format = fmt
        self._sample_rate = sample_rate
        self._emit = emit
        self._pieces: list[np.ndarray] = []

    def write(self, samples: np.ndarray) -> None:
        if len(samples):
            self._pieces.append(np.array(samples, dtype=np.float32))

    def close(self) -> None:
        """Encode and emit the file: every byte has been emitted when this returns."""
        samples = np.concatenate(self._pieces) if self._pieces else np.zeros(0, np.float32)
        self._pieces = []
        self._emit(encode(samples, self._sample_rate, self._format))

    def abort(self) -> None:
        self._pieces = []


StreamEncoder = PcmStreamEncoder | FfmpegStreamEncoder | WholeFileStreamEncoder


def stream_encoder(fmt: str, sample_rate: int, emit: Emit) -> StreamEncoder:
    """The encoder of one streamed reply in ``fmt``, emitting its bytes through ``emit``."""
    if fmt not in STREAMABLE_FORMATS:
        raise ValueError(f"{fmt} cannot be streamed")
    if fmt in ("wav", "pcm"):
        return PcmStreamEncoder(sample_rate, emit, wav=fmt == "wav")
    if fmt in WHOLE_FILE_FORMATS:
        return WholeFileStreamEncoder(fmt, sample_rate, emit)
    return FfmpegStreamEncoder(fmt, sample_rate, emit)
