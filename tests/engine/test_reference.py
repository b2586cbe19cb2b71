"""Reference validation and clipping (as upstream does, to about 12 s at silences), and the
transcript kept in step with the clip.

Clips are real espeak-ng speech, joined with numpy where a test needs pauses. Clipping is
checked sample for sample against upstream's own ``preprocess_ref_audio_text``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.support.audio import REF_TEXT
from tests.support.helpers import tiny_config
from tests.support.speech import (
    FIRST_WORDS,
    LAST_WORDS,
    SENTENCES,
    join_speech,
    make_long_speech,
    make_sentences,
    silence,
    words,
    write_wav,
)
from tts.engine import audio, reference
from tts.engine.engine import TTSEngine
from tts.engine.errors import InvalidReferenceAudio, InvalidReferenceText
from tts.engine.reference import ClipInfo, PreparedReference, normalize_ref_text

SR = audio.SAMPLE_RATE
LIMITS = {"min_seconds": 1.0, "max_seconds": 60.0, "clip_seconds": 12.0}


@pytest.fixture(scope="session")
def speech_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("reference-speech")


@pytest.fixture(scope="session")
def sentences(speech_dir) -> list[np.ndarray]:
    return make_sentences(speech_dir)


@pytest.fixture(scope="session")
def clips(speech_dir, sentences, ref_wav) -> dict[str, Path]:
    """Named test clips (wav files)."""
    rate = 22050
    ref, _ = sf.read(ref_wav, dtype="float32")
    t = np.arange(15 * rate) / rate
    # Speech with short (0.3 s) pauses only: upstream's first pass finds no 1 s silence and
    # its second pass (100 ms at -40 dBFS) does the cutting.
    short_pauses: list[np.ndarray | float] = []
    for sentence in sentences:
        short_pauses += [sentence, 0.3]
    made = {
        "ref": ref_wav,
        "long": make_long_speech(speech_dir),
        # 14 s of silence between two sentences: over 12 s, but only silence has to go.
        "long-pause": join_speech([sentences[0], 14.0, sentences[1]], rate),
        "short-pauses": join_speech(short_pauses * 2, rate),
        # 15 s without a single pause: upstream's third step, a hard cut at 12 s.
        "tone-15s": (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32),
        "leading-silence": join_speech([2.0, ref, 3.0], rate),
    }
    return {name: value if isinstance(value, Path) else
            write_wav(speech_dir / f"{name}.wav", value, rate) for name, value in made.items()}


def decoded(path: Path) -> np.ndarray:
    return audio.decode(path.read_bytes())


def clip(path: Path, **limits) -> tuple[np.ndarray, ClipInfo]:
    return reference.validate_and_clip(decoded(path), SR, **{**LIMITS, **limits})


def as_pcm16(samples: np.ndarray) -> np.ndarray:
    """What clipping sees: the 16-bit version of the samples (pydub works on integers)."""
    return audio.from_segment(audio.to_segment(samples, SR))


# --- clipping ---------------------------------------------------------------------------------

def test_a_normal_clip_is_kept_whole(clips):
    original = decoded(clips["ref"])
    kept, info = clip(clips["ref"])

    assert not info.clipped
    assert info.original_seconds == pytest.approx(audio.seconds(original, SR), abs=0.001)
    assert 0 <= info.kept_start < 0.2 and info.kept_end > info.original_seconds - 0.5
    # The output is exactly the kept span of the original, then 50 ms of silence.
    tail = reference.TAIL_SILENCE_MS * SR // 1000
    assert np.all(kept[-tail:] == 0)
    span = as_pcm16(original)[round(info.kept_start * SR): round(info.kept_end * SR)]
    np.testing.assert_array_equal(kept[:-tail], span)


def test_kept_start_and_end_are_where_the_kept_audio_lies(clips):
    """Two seconds of silence before the speech and three after: the report says the speech
    starts at about 2 s, where the kept audio really starts (edge trimming included)."""
    plain = clip(clips["ref"])[1]
    kept, info = clip(clips["leading-silence"])

    assert not info.clipped
    assert info.kept_start == pytest.approx(2.0 + plain.kept_start, abs=0.011)
    assert info.kept_end == pytest.approx(2.0 + plain.kept_end, abs=0.011)
    assert audio.seconds(kept, SR) == pytest.approx(
        info.kept_end - info.kept_start + reference.TAIL_SILENCE_MS / 1000, abs=0.002)


def test_a_long_clip_is_cut_at_a_pause_and_says_so(clips, sentences):
    original = decoded(clips["long"])
    kept, info = clip(clips["long"])

    assert info.clipped
    assert info.original_seconds == pytest.approx(17.08, abs=0.05)
    assert audio.seconds(kept, SR) <= 12.05
    # Cut at the pause after the second sentence (upstream keeps whole sentences).
    two_sentences = (len(sentences[0]) + len(sentences[1])) / 22050 + 1.5
    # (minus the quiet end of the second sentence, trimmed as upstream trims edges)
    assert two_sentences - 0.5 < info.kept_end <= two_sentences
    assert info.kept_start < 0.1
    # What is kept is the start of the upload, untouched.
    tail = reference.TAIL_SILENCE_MS * SR // 1000
    span = as_pcm16(original)[round(info.kept_start * SR): round(info.kept_end * SR)]
    np.testing.assert_array_equal(kept[:-tail], span)


def test_a_long_clip_made_of_silence_is_shortened_not_clipped(clips, sentences):
    """Over 12 s, but all its speech fits: silence goes, both sentences stay, and the
    transcript of the whole still matches (clipped is False)."""
    kept, info = clip(clips["long-pause"])

    assert info.original_seconds > 20
    assert not info.clipped
    speech = (len(sentences[0]) + len(sentences[1])) / 22050
    assert speech < audio.seconds(kept, SR) <= 12.05
    assert info.kept_end > info.original_seconds - 0.5  # up to the end of sentence two


def test_a_clip_without_pauses_is_cut_hard_at_12_seconds(clips):
    kept, info = clip(clips["tone-15s"])

    assert info.clipped
    assert info.kept_start == 0.0 and info.kept_end == pytest.approx(12.0, abs=0.01)
    assert audio.seconds(kept, SR) == pytest.approx(12.05, abs=0.01)


def test_the_clip_limit_is_a_parameter(clips):
    kept, info = clip(clips["long"], clip_seconds=5.0)
    assert info.clipped
    assert audio.seconds(kept, SR) <= 5.05


@pytest.mark.parametrize("name", ["ref", "long", "long-pause", "short-pauses", "tone-15s",
                                  "leading-silence"])
def test_clipping_matches_upstream_sample_for_sample(name, clips, private_tmp):
    """The same 16-bit audio through upstream's preprocess_ref_audio_text and through ours.

    The one difference is deliberate: upstream's 50 ms tail of silence is made at pydub's
    default 11025 Hz and comes out 2 samples short at 24 kHz; ours is exactly 50 ms.
    """
    from f5_tts.infer.utils_infer import preprocess_ref_audio_text

    samples = decoded(clips[name])
    source = private_tmp / f"{name}-24k.wav"
    audio.to_segment(samples, SR).export(source, format="wav")
    upstream_path, upstream_text = preprocess_ref_audio_text(str(source), "Words",
                                                             show_info=lambda *a: None)
    theirs, rate = sf.read(upstream_path, dtype="int16")
    assert rate == SR

    ours, _ = reference.validate_and_clip(samples, SR, **LIMITS)
    ours16 = np.round(ours * 32768).astype(np.int16)
    assert 0 <= len(ours16) - len(theirs) <= 2
    np.testing.assert_array_equal(ours16[: len(theirs)], theirs)
    assert not ours16[len(theirs):].any()
    assert normalize_ref_text("Words") == upstream_text


# --- validation -------------------------------------------------------------------------------

def expect_error(samples: np.ndarray, code: str, **limits) -> InvalidReferenceAudio:
    with pytest.raises(InvalidReferenceAudio) as info:
        reference.validate_and_clip(samples, SR, **{**LIMITS, **limits})
    assert info.value.code == code
    assert info.value.attr == "ref_audio"
    assert "send" in info.value.message  # every message says what to do
    return info.value


def test_too_short(ref_bytes):
    error = expect_error(audio.decode(ref_bytes)[: int(0.6 * SR)], "reference_too_short")
    assert "0.60 s" in error.message and "at least 1 s" in error.message


def test_minimum_length_is_a_parameter(ref_bytes):
    samples = audio.decode(ref_bytes)  # 4.1 s
    expect_error(samples, "reference_too_short", min_seconds=5.0)
    reference.validate_and_clip(samples, SR, **{**LIMITS, "min_seconds": 3.0})


def test_too_little_speech_in_a_long_enough_clip(ref_bytes):
    """3.5 s long, but only 0.4 s of it is sound: short once the silence is trimmed."""
    samples = np.concatenate([audio.decode(ref_bytes)[int(0.3 * SR): int(0.7 * SR)],
                              silence(3.1)])
    error = expect_error(samples, "reference_too_short")
    assert "holds only" in error.message


@pytest.mark.parametrize("kind", ["zeros", "faint-hiss", "hiss-with-spikes"])
def test_effectively_silent(kind):
    rng = np.random.default_rng(1)
    samples = {
        "zeros": silence(4.0),
        "faint-hiss": 0.001 * rng.standard_normal(4 * SR),  # about -60 dBFS
        # Faint hiss with a few isolated -30 dBFS samples: loud peaks, yet nothing to hear.
        "hiss-with-spikes": 0.001 * rng.standard_normal(4 * SR),
    }[kind].astype(np.float32)
    if kind == "hiss-with-spikes":
        samples[:: SR // 2] = 0.03
    expect_error(samples, "reference_silent")


def test_quiet_speech_is_speech(ref_bytes):
    """The same speech 20 dB down is still accepted whole."""
    loud = audio.decode(ref_bytes)
    quiet = (loud * 10 ** (-20 / 20)).astype(np.float32)
    kept, _ = reference.validate_and_clip(quiet, SR, **LIMITS)
    assert audio.seconds(kept, SR) > 3


def test_speech_too_quiet_to_use_says_so(ref_bytes):
    """30 dB down nothing is above upstream's -42 dBFS edge threshold any more: rejected with
    a message that asks for a louder recording, not passed on as an empty reference."""
    faint = (audio.decode(ref_bytes) * 10 ** (-30 / 20)).astype(np.float32)
    error = expect_error(faint, "reference_too_short")
    assert "louder" in error.message


def test_too_long(ref_bytes):
    samples = np.tile(audio.decode(ref_bytes), 16)  # 66 s
    error = expect_error(samples, "reference_too_long")
    assert "60 s" in error.message
    expect_error(samples[: 25 * SR], "reference_too_long", max_seconds=20.0)


def test_errors_come_in_order_of_what_to_fix_first():
    """A long silent upload is too long first (the cheapest thing to tell)."""
    expect_error(silence(61.5), "reference_too_long")
    expect_error(silence(0.5), "reference_too_short")


# --- transcript ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("given", "expected"), [
    ("Hello there", "Hello there. "),
    ("Hello there.", "Hello there. "),
    ("  Hello there.  ", "Hello there. "),
    ("Is it you?", "Is it you?. "),  # as upstream: only "." and "。" count as an ending
    ("你好。", "你好。"),
])
def test_normalize_ref_text_as_upstream(given, expected):
    assert normalize_ref_text(given) == expected


def test_prepared_reference_size_counts_audio_and_text():
    ref = PreparedReference(samples=silence(1.0), sample_rate=SR, ref_text="héllo",
                            clip=ClipInfo(1.0, 0.0, 1.0, False))
    assert ref.nbytes == SR * 4 + len("héllo".encode())
    assert ref.seconds == 1.0


@pytest.fixture(scope="module")
def asr_engine(tiny_dir):
    from tests.support.asr import shared_transcriber

    return TTSEngine(tiny_config(tiny_dir), transcriber=shared_transcriber())


def test_clipped_reference_with_text_and_asr_uses_the_transcript_of_the_kept_part(
        clips, asr_engine):
    full_text = " ".join(SENTENCES)
    ref, _ = asr_engine.prepare_reference(clips["long"].read_bytes(), full_text)

    assert ref.clip.clipped and ref.transcribed
    heard = words(ref.ref_text)
    assert FIRST_WORDS.issubset(heard), ref.ref_text
    assert not heard & LAST_WORDS, ref.ref_text  # no words of the part that was cut away
    assert len(ref.ref_text) < len(full_text) * 0.75


def test_clipped_reference_without_text_is_transcribed_from_the_kept_part(clips, asr_engine):
    ref, _ = asr_engine.prepare_reference(clips["long"].read_bytes(), "")
    heard = words(ref.ref_text)
    assert FIRST_WORDS.issubset(heard) and not heard & LAST_WORDS, ref.ref_text


def test_clipped_reference_with_text_and_no_asr_is_rejected(clips, tiny_dir):
    engine = TTSEngine(tiny_config(tiny_dir))
    with pytest.raises(InvalidReferenceText) as info:
        engine.prepare_reference(clips["long"].read_bytes(), " ".join(SENTENCES))
    error = info.value
    assert error.code == "ref_text_exceeds_clip" and error.attr == "ref_text"
    assert "under 12 s" in error.message and "omit ref_text" in error.message


def test_shortened_but_unclipped_reference_keeps_the_given_text_without_asr(clips, tiny_dir):
    engine = TTSEngine(tiny_config(tiny_dir))
    text = f"{SENTENCES[0]} {SENTENCES[1]}"
    ref, _ = engine.prepare_reference(clips["long-pause"].read_bytes(), text)
    assert ref.ref_text == text + " "
    assert not ref.transcribed and not ref.clip.clipped


def test_engine_reference_is_decoded_clipped_and_normalized(ref_bytes, tiny_dir):
    engine = TTSEngine(tiny_config(tiny_dir))
    ref, cached = engine.prepare_reference(ref_bytes, REF_TEXT)
    assert not cached
    assert ref.sample_rate == SR and ref.samples.dtype == np.float32
    assert ref.ref_text == REF_TEXT + " "
    assert not ref.transcribed and not ref.clip.clipped
    assert 3.0 < ref.seconds < ref.clip.original_seconds + 0.06


def test_engine_uses_its_configured_limits(ref_bytes, tiny_dir, clips):
    strict = TTSEngine(tiny_config(tiny_dir, min_ref_seconds=5.0, max_ref_upload_seconds=10.0))
    with pytest.raises(InvalidReferenceAudio) as info:
        strict.prepare_reference(ref_bytes, REF_TEXT)
    assert info.value.code == "reference_too_short"
    with pytest.raises(InvalidReferenceAudio) as info:
        strict.prepare_reference(clips["long"].read_bytes(), REF_TEXT)
    assert info.value.code == "reference_too_long"


def test_the_long_speech_builder_makes_what_the_api_tests_expect(tmp_path):
    """make_long_speech is shared with tests/api; it must really be over 12 s of speech."""
    path = make_long_speech(tmp_path)
    info = sf.info(path)
    assert 16 < info.duration < 18
    out = subprocess.run(["ffmpeg", "-nostdin", "-i", str(path), "-af",
                          "silencedetect=n=-50dB:d=1", "-f", "null", "-"],
                         capture_output=True, text=True, check=True).stderr
    assert out.count("silence_start") == 3  # the three pauses
