"""The speaker encoder on real speech: espeak-ng voices and variants tell speakers apart."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tts.engine.voiceprint import SpeakerEncoder, cosine, mean_print

VOICES = ["en+m3", "en+f2", "en-us+f4", "en+m1", "de+m2", "en+Andy"]
SENTENCES = ["The old lighthouse keeper climbed the stairs every evening to light the lamp.",
             "Bright autumn leaves covered the quiet path through the northern forest."]


def say(text: str, voice: str) -> tuple[np.ndarray, int]:
    with tempfile.TemporaryDirectory(prefix="tts-vp-") as folder:
        path = Path(folder) / "s.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), text], check=True,
                       timeout=60)
        samples, rate = sf.read(path, dtype="float32")
    return samples, rate


@pytest.fixture(scope="module")
def encoder() -> SpeakerEncoder:
    return SpeakerEncoder()


@pytest.fixture(scope="module")
def prints(encoder) -> dict[str, list[np.ndarray]]:
    return {voice: [encoder.embed(*say(text, voice)) for text in SENTENCES] for voice in VOICES}


def test_same_voice_scores_higher_than_another_voice(prints):
    pairs = 0
    for voice in VOICES:
        same = cosine(prints[voice][0], prints[voice][1])
        for other in VOICES:
            if other != voice:
                assert same > cosine(prints[voice][0], prints[other][1]), (voice, other)
                pairs += 1
    assert pairs >= 10


def test_voiceprints_are_unit_vectors_and_short_or_silent_audio_has_none(encoder, prints):
    assert np.linalg.norm(prints["en+m3"][0]) == pytest.approx(1.0, abs=1e-4)
    assert encoder.embed(np.zeros(24000 * 3, np.float32), 24000) is None
    assert encoder.embed(np.zeros(100, np.float32), 24000) is None


def test_reference_voiceprint_is_computed_once_per_key(encoder):
    samples, rate = say(SENTENCES[0], "en+f2")
    first = encoder.reference(samples, rate, key="k1")
    # Cached under its key: other audio under the same key gives the kept voiceprint.
    again = encoder.reference(np.zeros_like(samples), rate, key="k1")
    assert again is first


def test_mean_print_weights_by_duration(prints):
    a, b = prints["en+m3"][0], prints["en+f2"][0]
    mixed = mean_print([a, b], [9.0, 1.0])
    assert cosine(mixed, a) > cosine(mixed, b)
    assert mean_print([], []) is None
