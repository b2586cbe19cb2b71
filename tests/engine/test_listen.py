"""The listening pass's parts without a model: alignment of heard words to source words,
character error rate, the silence-removal time map, and subtitles (checked with real parsers).
The pass on real speech is in tests/api/test_listen.py."""

from __future__ import annotations

import io

import numpy as np
import pytest
import srt
import webvtt

from tts.engine import audio
from tts.engine.asr import HeardWord
from tts.engine.captions import LINE_CHARS, cues, to_srt, to_vtt
from tts.engine.listen import TimeMap, align, cer, normalise
from tts.engine.synthesis import remove_silences, remove_silences_mapped


def heard(*items) -> list[HeardWord]:
    return [HeardWord(word, start, end, 0.9) for word, start, end in items]


def test_every_source_word_once_in_order_with_missed_words_interpolated():
    text = "The quick brown fox jumps over the lazy dog."
    words = align(text, heard(("the", 0.1, 0.2), ("quick", 0.25, 0.5), ("fox", 0.9, 1.1),
                              ("jumps", 1.15, 1.4), ("over", 1.45, 1.6), ("the", 1.65, 1.7),
                              ("lazy", 1.75, 2.0), ("dog", 2.05, 2.3)), duration=3.0)
    assert [w.word for w in words] == text.split()
    brown = words[2]
    assert brown.confidence == 0.0 and 0.5 <= brown.start <= brown.end <= 0.9
    assert words[1].confidence == pytest.approx(0.9) and words[1].start == 0.25
    assert words[-1].word == "dog." and words[-1].end == 2.3


def test_substitutions_share_the_heard_time_with_lower_confidence():
    words = align("I paid 20 dollars", heard(("I", 0.0, 0.1), ("paid", 0.2, 0.4),
                                             ("twenty", 0.5, 0.8), ("dollars", 0.9, 1.3)), 2.0)
    assert [w.word for w in words] == ["I", "paid", "20", "dollars"]
    assert words[2].start == 0.5 and words[2].end == 0.8  # numbers normalised to words
    words = align("colour grey", heard(("color", 0.1, 0.5), ("gray", 0.6, 0.9)), 1.0)
    assert 0 < words[0].confidence < 0.9 and words[0].start == pytest.approx(0.1)


def test_nothing_heard_spreads_the_words_over_the_clip_with_zero_confidence():
    words = align("one two three", [], duration=3.0)
    assert [w.confidence for w in words] == [0.0] * 3
    assert words[0].start == 0.0 and words[-1].end == 3.0
    assert all(a.end <= b.start + 1e-9 for a, b in zip(words, words[1:], strict=False))


def test_extra_and_repeated_heard_words_do_not_add_source_words():
    words = align("hello world", heard(("hello", 0.0, 0.3), ("hello", 0.35, 0.6),
                                       ("um", 0.7, 0.8), ("world", 0.9, 1.2)), 1.5)
    assert [w.word for w in words] == ["hello", "world"]
    assert words[1].start == 0.9


def test_cer_normalises_case_punctuation_and_numbers():
    assert cer("Hello, World! I have 3 cats.", "hello world i have three cats") == 0.0
    assert cer("abcd", "") == 1.0
    assert 0 < cer("the farmer walked", "the farmer") < 0.5
    assert normalise("It's 1,000 — OK?") == "its one thousand ok"


def test_time_map_follows_silence_removal():
    rate = audio.SAMPLE_RATE
    tone = (0.3 * np.sin(np.arange(rate) * 2 * np.pi * 440 / rate)).astype(np.float32)
    gap = np.zeros(3 * rate, np.float32)
    samples = np.concatenate([tone, gap, tone])
    cleaned, kept = remove_silences_mapped(samples, rate)
    assert np.array_equal(cleaned, remove_silences(samples, rate))
    mapping = TimeMap(kept)
    removed = (len(samples) - len(cleaned)) / rate
    assert removed > 1.5
    assert mapping(0.5) == pytest.approx(0.5, abs=0.01)
    assert mapping(4.5) == pytest.approx(4.5 - removed, abs=0.02)  # the second tone moved up
    assert mapping(len(samples) / rate) == pytest.approx(len(cleaned) / rate, abs=0.02)
    assert TimeMap([])(2.0) == 2.0


def _timed(text: str, seconds_per_word: float = 0.4, voice=None) -> list[dict]:
    return [{"word": w, "start": i * seconds_per_word, "end": (i + 0.8) * seconds_per_word,
             "voice": voice} for i, w in enumerate(text.split())]


LONG = ("It was a bright cold day in April, and the clocks were striking thirteen. Winston "
        "Smith, his chin nuzzled into his breast in an effort to escape the vile wind, slipped "
        "quickly through the glass doors of Victory Mansions, though not quickly enough to "
        "prevent a swirl of gritty dust from entering along with him.")


def test_cues_follow_subtitle_conventions():
    words = _timed(LONG)
    result = cues(words)
    assert " ".join(" ".join(c.lines) for c in result).split() == LONG.split()
    for cue in result:
        assert len(cue.lines) <= 2 and all(len(line) <= LINE_CHARS for line in cue.lines)
        assert cue.end - cue.start <= 7.0 + 1e-6
    assert result[0].lines[-1].endswith("thirteen.")  # a sentence ends its cue
    assert all(a.end <= b.start for a, b in zip(result, result[1:], strict=False))


def test_srt_and_vtt_parse_with_real_parsers():
    words = _timed(LONG)
    parsed = list(srt.parse(to_srt(words)))
    assert parsed and parsed[0].start.total_seconds() == 0.0
    assert " ".join(p.content.replace("\n", " ") for p in parsed).split() == LONG.split()
    vtt = list(webvtt.from_buffer(io.StringIO(to_vtt(words))))
    assert [c.text for c in vtt] == [p.content for p in parsed]


def test_a_new_voice_starts_a_new_cue_and_vtt_names_it():
    words = _timed("Hello there.", voice="anna") + [
        {**w, "start": w["start"] + 1, "end": w["end"] + 1}
        for w in _timed("Hi & welcome", voice="ben")]
    vtt = list(webvtt.from_buffer(io.StringIO(to_vtt(words))))
    assert [c.voice for c in vtt] == ["anna", "ben"]
    assert "&amp;" in to_vtt(words)  # escaped in WebVTT
