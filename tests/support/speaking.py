"""A test-only model backend that speaks: the tiny random model loads and runs as usual, but
each chunk's audio is espeak-ng saying the chunk's text (at the requested speed), so that the
listening pass hears real, intelligible words through the real pipeline (chunking, cross-fades,
silence removal, encoding, streams, jobs).

``dropping=True``: the first attempt at each chunk text leaves out its second half (a chunk
that skips words, F5-TTS's known failure); later attempts say it all.
``first_voice="en+f2"``: the first attempt at each chunk text is spoken in that espeak voice
(a chunk that drifts away from the reference's voice); later attempts in the default voice.
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
import threading
from pathlib import Path

import numpy as np
import soundfile as sf

from tts.engine import audio
from tts.engine.backends.base import ChunkAudio

SPEAKING = "speaking"
#: Silence after each chunk's speech (longer than the 1 s that remove_silence shortens).
PAUSE_SECONDS = 1.5


def espeak(text: str, speed: float = 1.0, voice: str | None = None) -> np.ndarray:
    """espeak-ng saying ``text`` (words per minute scaled by ``speed``; ``voice`` an espeak
    voice such as en+f2, else the default), mono float32 at 24 kHz."""
    with tempfile.TemporaryDirectory(prefix="tts-espeak-") as folder:
        path = Path(folder) / "speech.wav"
        subprocess.run(["espeak-ng", "-s", str(int(160 * speed)),
                        *(["-v", voice] if voice else []), "-w", str(path), text],
                       check=True, timeout=60)
        samples, rate = sf.read(path, dtype="float32")
    return audio.decode(audio.encode(samples, rate, "wav"))


def speaking_backend(base: type, *, dropping: bool, first_voice: str | None = None) -> type:
    class SpeakingBackend(base):
        seen: set[str] = set()
        lock = threading.Lock()

        def synthesize_chunk(self, prepared, ref_text, text, params, seed, should_stop=None):
            real = super().synthesize_chunk(prepared, ref_text, text, params, seed,
                                            should_stop=should_stop)  # the model runs for real
            spoken, voice = text, None
            with self.lock:
                first = text not in self.seen
                self.seen.add(text)
            if first and first_voice:
                voice = first_voice
            if dropping and first:
                words = text.split()
                spoken = " ".join(words[:max(len(words) // 2, 1)])
            # A long pause after each chunk, as F5-TTS sometimes leaves: remove_silence cuts it.
            samples = np.concatenate([espeak(spoken, params.speed, voice),
                                      np.zeros(int(PAUSE_SECONDS * audio.SAMPLE_RATE),
                                               np.float32)])
            return ChunkAudio(samples=samples, sample_rate=audio.SAMPLE_RATE, mel=real.mel)

    return SpeakingBackend


@contextlib.contextmanager
def speaking_models(monkeypatch, *, dropping: bool = False, first_voice: str | None = None):
    """Every model of the engines built inside speaks its text with espeak-ng."""
    from tts.engine import pool
    from tts.engine.backends import f5

    original = pool.backend_for

    def backend_for(spec, device, precision=None, **options):
        base = {"DiT": f5.F5Backend, "UNetT": f5.E2Backend}[spec.architecture]
        cls = speaking_backend(base, dropping=dropping, first_voice=first_voice)
        return cls(spec, device, precision, **options)

    monkeypatch.setattr(pool, "backend_for", backend_for)
    try:
        yield
    finally:
        monkeypatch.setattr(pool, "backend_for", original)
