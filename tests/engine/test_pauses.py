"""Pause tags in generated audio: exact silence of the requested length at the right place,
in whole files and streams, with no cross-fade across it and no chunk spanning it."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.audio import REF_TEXT
from tts.engine.errors import GenerationFailed
from tts.engine.synthesis import SynthesisParams

RATE = 24_000
HOP = 256  # one mel frame


@pytest.fixture(scope="module")
def ref(tiny_engine, ref_bytes):
    return tiny_engine.prepare_reference(ref_bytes, REF_TEXT)[0]


def stream_of(engine, ref, text, *, streaming=False, **params):
    params = {"nfe_step": 4, "seed": 11, **params}
    return engine.open_stream(engine.admit("tiny-f5"), ref, text, SynthesisParams(**params),
                              streaming=streaming)


def zero_runs(samples: np.ndarray, at_least: int = HOP) -> list[tuple[int, int]]:
    """(start, length) of each run of exact zeros at least ``at_least`` long."""
    zero = np.concatenate([[False], samples == 0, [False]])
    edges = np.flatnonzero(np.diff(zero.astype(np.int8)))
    runs = [(int(a), int(b - a)) for a, b in zip(edges[::2], edges[1::2], strict=True)]
    return [(start, length) for start, length in runs if length >= at_least]


def test_a_pause_is_exact_silence_between_chunks_made_alone(tiny_engine, ref):
    text = "The first part is spoken here. [pause:1.5s] And then the second part."
    stream = stream_of(tiny_engine, ref, text)
    assert stream.texts[1].seconds == 1.5 and len(stream.texts) == 3
    whole = stream.collect()
    before = stream_of(tiny_engine, ref, "The first part is spoken here.").collect()
    [(start, length)] = zero_runs(whole.samples)
    assert start == len(before.samples)  # right where the first part ends...
    assert abs(length - round(1.5 * RATE)) <= HOP  # ...exactly as long as asked
    # No cross-fade across the pause: the first part is what it is alone, to the sample, and
    # the part after is what that text alone makes with the seed of the second chunk.
    np.testing.assert_array_equal(whole.samples[:start], before.samples)
    after = stream_of(tiny_engine, ref, "And then the second part.", seed=12).collect()
    np.testing.assert_array_equal(whole.samples[start + round(1.5 * RATE):], after.samples)


def test_streamed_pieces_hold_the_pause_as_a_chunk_of_its_own(tiny_engine, ref):
    text = "Streams keep pauses too. [pause:500ms] Right here. [pause:250ms] And here."
    pieces = list(stream_of(tiny_engine, ref, text, streaming=True))
    pauses = [piece for piece in pieces if piece.text.startswith("[pause")]
    assert [p.text for p in pauses] == ["[pause:500ms]", "[pause:250ms]"]
    assert [len(p.samples) for p in pauses] == [12_000, 6_000]
    assert all(not p.samples.any() for p in pauses)
    joined = np.concatenate([piece.samples for piece in pieces])
    whole = stream_of(tiny_engine, ref, text, streaming=True).collect()
    np.testing.assert_array_equal(joined, whole.samples)
    for pause in pauses:
        assert (joined[round(pause.start * RATE):round(pause.end * RATE)] == 0).all()


def test_removing_silences_keeps_the_pauses_asked_for(tiny_engine, ref):
    text = "Silences are removed elsewhere. [pause:3s] But not this one."
    whole = stream_of(tiny_engine, ref, text, remove_silence=True).collect()
    assert any(abs(length - 3 * RATE) <= HOP for _, length in zero_runs(whole.samples))


def test_no_chunk_spans_a_pause(tiny_engine, ref):
    text = ("One short line. " * 3 + "[pause:1s] " + "Another short line. " * 3).strip()
    stream = stream_of(tiny_engine, ref, text)
    stream.close()
    pause_at = [i for i, t in enumerate(stream.texts) if not isinstance(t, str)]
    assert len(pause_at) == 1
    assert all("One" in t for t in stream.texts[:pause_at[0]])
    assert all("Another" in t for t in stream.texts[pause_at[0] + 1:])


def test_a_bad_tag_is_refused_before_any_generation(tiny_engine, ref):
    with pytest.raises(GenerationFailed) as caught:
        stream_of(tiny_engine, ref, "Hello [pause:12s] there.")
    assert caught.value.code == "pause_too_long" and caught.value.attr == "gen_text"
    assert "[pause:12s]" in caught.value.message
    assert tiny_engine.queue.waiting() == 0  # the admission was given back


def test_spoken_text_and_normalisation_switch(tiny_engine, ref):
    stream = stream_of(tiny_engine, ref, "It costs $5. [pause:1s] Bye.")
    stream.close()
    assert stream.spoken.spoken_text == "It costs five dollars. [pause:1s] Bye."
    assert stream.texts[0] == "It costs five dollars."
    raw = stream_of(tiny_engine, ref, "It costs $5.", normalize="off")
    raw.close()
    assert raw.texts == ["It costs $5."]
