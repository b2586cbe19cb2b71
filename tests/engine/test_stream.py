"""A generation as a stream of chunks: seamless joins, first audio early, cancellation."""

from __future__ import annotations

import logging
import threading

import numpy as np
import pytest

from tests.support.audio import REF_TEXT
from tests.support.helpers import device_held, run_in_threads, tiny_config
from tts.engine import audio as audio_module
from tts.engine.backends.f5 import FlowMatchingBackend
from tts.engine.engine import TTSEngine
from tts.engine.errors import GenerationCancelled
from tts.engine.stream import CrossFader
from tts.engine.synthesis import MAX_CHUNK_SECONDS, SynthesisParams, chunk_budget, chunk_text

SENTENCES = ("The first sentence of this story is long enough to be cut in two. "
             "Then a second sentence follows it. And a third one closes the first part. ")
#: Over one chunk's budget even without the short first chunk.
STORY = SENTENCES * 3


@pytest.fixture
def engine(tiny_dir) -> TTSEngine:
    return TTSEngine(tiny_config(tiny_dir))


@pytest.fixture(scope="module")
def ref(tiny_engine, ref_bytes):
    return tiny_engine.prepare_reference(ref_bytes, REF_TEXT)[0]


def open_stream(engine, ref, text=STORY, **params):
    params = {"nfe_step": 4, "seed": 8, **params}
    return engine.open_stream(engine.admit("tiny-f5"), ref, text, SynthesisParams(**params),
                              streaming=True)


def upstream_style_cross_fade(waves, overlap):
    """How upstream joins whole chunks (linear fade over min(overlap, both lengths))."""
    joined = waves[0]
    for wave in waves[1:]:
        n = min(overlap, len(joined), len(wave))
        if n <= 0:
            joined = np.concatenate([joined, wave])
            continue
        ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
        joined = np.concatenate([joined[:-n], joined[-n:] * (1 - ramp) + wave[:n] * ramp,
                                 wave[n:]])
    return joined


@pytest.mark.parametrize("lengths", [(5000, 7000, 3000), (100, 5000, 50, 4000), (3600, 3600)])
def test_cross_fader_pieces_equal_the_whole_join(lengths):
    rng = np.random.default_rng(1)
    waves = [rng.standard_normal(n).astype(np.float32) for n in lengths]
    fader = CrossFader(3600)
    pieces = [fader.push(wave) for wave in waves] + [fader.flush()]
    np.testing.assert_allclose(np.concatenate(pieces), upstream_style_cross_fade(waves, 3600),
                               rtol=1e-6, atol=1e-6)


def test_streamed_pieces_equal_the_collected_file(engine, ref):
    pieces = list(open_stream(engine, ref))
    assert len(pieces) >= 3
    assert [piece.index for piece in pieces] == list(range(len(pieces)))
    whole = open_stream(engine, ref).collect()
    streamed = np.concatenate([piece.samples for piece in pieces])
    np.testing.assert_array_equal(streamed, whole.samples)
    for before, after in zip(pieces, pieces[1:], strict=False):
        assert before.end == pytest.approx(after.start)
    assert pieces[-1].end == pytest.approx(whole.seconds)


def test_the_first_chunk_is_short_and_nothing_is_lost(ref):
    chunks = chunk_text(ref, STORY, 1.0, short_first=True)
    # About a second of speech (upstream's bytes-per-second of the reference), cut at a word.
    per_second = chunk_budget(ref, 1.0) / (MAX_CHUNK_SECONDS - ref.seconds)
    assert len(chunks[0].encode()) <= max(per_second * 1.5, 24)
    assert " ".join(chunks).split() == STORY.split()
    assert len(chunks) > len(chunk_text(ref, STORY, 1.0))


def test_the_first_piece_comes_before_the_next_chunk_is_generated(engine, ref, monkeypatch):
    calls = []
    real = FlowMatchingBackend.synthesize_chunk

    def counting(self, *args, **kwargs):
        calls.append(args[2])
        return real(self, *args, **kwargs)

    monkeypatch.setattr(FlowMatchingBackend, "synthesize_chunk", counting)
    stream = open_stream(engine, ref)
    pieces = iter(stream)
    first = next(pieces)
    assert first.index == 0 and len(first.samples) > 0
    assert len(calls) == 1 < stream.total_chunks
    pieces.close()


def test_closing_after_the_first_piece_frees_the_device_and_says_so(engine, ref, caplog):
    stream = open_stream(engine, ref)
    stream.label = "req-42"
    pieces = iter(stream)
    next(pieces)
    with caplog.at_level(logging.INFO, logger="tts.engine.stream"):
        pieces.close()
    assert engine.queue.admitted() == 0 and engine.queue_depth() == 0
    assert any("req-42" in r.message and "cancelled" in r.message and "1 of" in r.message
               for r in caplog.records), caplog.text
    assert engine.generate("tiny-f5", ref, "Next please.", SynthesisParams(nfe_step=4)).seconds


def test_a_cancelled_stream_stops_at_the_next_chunk(engine, ref):
    stream = open_stream(engine, ref)
    pieces = iter(stream)
    next(pieces)
    stream.cancel()
    with pytest.raises(GenerationCancelled):
        next(pieces)
    assert stream.done_chunks == 1
    assert engine.queue.admitted() == 0


def test_cancelling_a_request_waiting_for_its_turn_releases_it(engine, ref):
    with device_held(engine):
        stream = open_stream(engine, ref)
        outcome = []
        consumer = threading.Thread(target=lambda: outcome.append(
            pytest.raises(GenerationCancelled, stream.collect)))
        consumer.start()
        while not engine.queue._waiters:
            threading.Event().wait(0.005)
        stream.cancel()
        consumer.join(10)
        assert not consumer.is_alive() and outcome
    assert engine.queue.admitted() == 0


def test_streamed_silence_removal_works_per_chunk(engine, ref):
    pieces = list(open_stream(engine, ref, remove_silence=True))
    assert all(np.isfinite(piece.samples).all() for piece in pieces)
    assert sum(len(p.samples) for p in pieces) > 0


def test_concurrent_preparations_of_one_clip_decode_it_once(tiny_dir, ref_bytes, monkeypatch):
    engine = TTSEngine(tiny_config(tiny_dir))
    decodes = []
    real = audio_module.decode
    entered = threading.Event()

    def slow_decode(*args, **kwargs):
        decodes.append(1)
        entered.set()
        threading.Event().wait(0.3)  # long enough for the others to arrive meanwhile
        return real(*args, **kwargs)

    monkeypatch.setattr(audio_module, "decode", slow_decode)
    results = run_in_threads(lambda: engine.prepare_reference(ref_bytes, REF_TEXT), 4)
    assert len(decodes) == 1
    assert sum(not hit for _, hit in results) == 1  # one prepared it, three shared it
    assert all(ref is results[0][0] for ref, _ in results)


def test_cancelling_mid_chunk_stops_within_a_denoising_step(engine, ref, monkeypatch):
    """The transformer runs once per step; a cancel between two steps abandons the chunk."""
    stream = open_stream(engine, ref, nfe_step=32)
    steps = []
    lease = stream._lease
    transformer = lease.backend._model.transformer

    def count_and_cancel(module, args):
        steps.append(1)
        if len(steps) == 3:
            stream.cancel("test")

    handle = transformer.register_forward_pre_hook(count_and_cancel)
    try:
        with pytest.raises(GenerationCancelled):
            stream.collect()
    finally:
        handle.remove()
    assert len(steps) == 3  # not the 32+ passes that the whole chunk takes
    assert stream.done_chunks == 0 and engine.queue.admitted() == 0
