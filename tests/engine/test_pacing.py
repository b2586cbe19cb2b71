"""Stream pacing: chunk sizes from a measured cost, and the underrun counter."""

from __future__ import annotations

import pytest

from tests.support.audio import REF_TEXT
from tts.engine.pacing import (
    FIRST_CHUNK_SECONDS,
    ChunkCost,
    PlaybackClock,
    count_underruns,
    next_chunk_seconds,
)
from tts.engine.synthesis import MAX_CHUNK_SECONDS, Pacing, chunk_budget, chunk_text

STORY = ("The first sentence of this story is long enough to be cut in two. "
         "Then a second sentence follows it, and it has a few more words than the first. "
         "And a third one closes the first part of the story for now. ") * 4


@pytest.fixture(scope="module")
def ref(tiny_engine, ref_bytes):
    return tiny_engine.prepare_reference(ref_bytes, REF_TEXT)[0]


def test_a_piece_after_the_audio_before_it_has_played_is_an_underrun():
    clock = PlaybackClock()
    assert not clock.ready(2.0, 1.0)  # first audio: playing from 2.0 to 3.0
    assert not clock.ready(2.5, 1.0)  # in time: plays 3.0-4.0
    assert clock.ready(4.5, 2.0)  # 0.5 s of silence, then plays 4.5-6.5
    assert not clock.ready(6.5, 1.0)  # just in time
    assert not clock.ready(7.0, 0.0)  # nothing to play counts for nothing
    assert clock.ready(9.0, 1.0)
    assert clock.underruns == 2
    assert clock.stalled_seconds == pytest.approx(0.5 + 1.5)


def test_a_timeline_that_keeps_ahead_has_no_underruns():
    assert count_underruns([(1.0, 1.0), (1.5, 2.0), (3.0, 4.0), (6.9, 5.0)]).underruns == 0
    assert count_underruns([(1.0, 1.0), (3.0, 1.0), (5.0, 1.0)]).underruns == 2
    assert count_underruns([]).underruns == 0


def test_the_cost_is_measured_per_second_and_step_and_averaged():
    cost = ChunkCost()
    assert cost.estimate(5.0, 7) is None
    cost.observe(audio_seconds=5.0, steps=7, seconds=3.5)  # 0.1 s per second and step
    assert cost.estimate(10.0, 7) == pytest.approx(7.0)
    cost.observe(audio_seconds=5.0, steps=7, seconds=10.5)  # 0.3: the average moves
    assert 0.1 < cost.per_step_second < 0.3
    cost.observe(audio_seconds=0.0, steps=7, seconds=1.0)  # nothing to learn from
    assert 0.1 < cost.per_step_second < 0.3


def test_a_snapshot_stays_put_and_is_rounded_up():
    cost = ChunkCost()
    cost.observe(audio_seconds=1.0, steps=1, seconds=0.26)
    snapshot = cost.snapshot()
    assert 0.26 <= snapshot.per_step_second <= 0.26 * 1.19  # on the safe side, not far
    cost.observe(audio_seconds=1.0, steps=1, seconds=1.0)
    assert snapshot.per_step_second <= 0.26 * 1.19  # later measures leave it alone
    near = ChunkCost()
    near.observe(audio_seconds=1.0, steps=1, seconds=0.27)  # noise: the same plan
    assert near.snapshot().per_step_second == snapshot.per_step_second
    assert ChunkCost().snapshot().per_step_second is None


def test_first_chunk_is_a_second_then_full_size_until_measured():
    assert next_chunk_seconds([], ref_seconds=3.0, steps=7, cost=None,
                              max_seconds=19.0) == FIRST_CHUNK_SECONDS
    assert next_chunk_seconds([1.0], ref_seconds=3.0, steps=7, cost=ChunkCost(),
                              max_seconds=19.0) == 19.0


def fast(rate: float) -> ChunkCost:
    """A cost of ``rate`` seconds per second of audio and step."""
    return ChunkCost(per_step_second=rate)


def simulated_underruns(chunks: list[float], ref_seconds: float, steps: int,
                        cost: ChunkCost) -> int:
    """The underruns of chunks made back to back at the cost's estimate."""
    ready, timeline = 0.0, []
    for seconds in chunks:
        ready += cost.estimate(ref_seconds + seconds, steps)
        timeline.append((ready, seconds))
    return count_underruns(timeline).underruns


def test_chunks_grow_as_the_lead_grows_and_never_starve_the_player():
    # 3 s reference, 7 steps, 0.01 s per second and step: a chunk of s seconds costs
    # 0.07 * (3 + s), a real-time factor of about 0.1 on long chunks.
    cost, made = fast(0.01), []
    for _ in range(5):
        made.append(next_chunk_seconds(made, ref_seconds=3.0, steps=7, cost=cost,
                                       max_seconds=19.0))
    assert made[0] == FIRST_CHUNK_SECONDS
    assert made == sorted(made) and made[1] < 19.0 and made[-1] == 19.0
    assert simulated_underruns(made, 3.0, 7, cost) == 0


def test_a_machine_that_cannot_keep_up_gets_full_size_chunks():
    # Real-time factor about 3: no chunk after the first could be ready in time.
    assert next_chunk_seconds([1.0], ref_seconds=3.0, steps=7, cost=fast(0.4),
                              max_seconds=19.0) == 19.0


def test_paced_chunks_keep_every_word_and_fit_the_measured_cost(ref):
    budget = chunk_budget(ref, 1.0)
    rate = budget / (MAX_CHUNK_SECONDS - ref.seconds)  # bytes per second of speech
    cost = fast(0.01)
    chunks = chunk_text(ref, STORY, 1.0, short_first=True, pacing=Pacing(7, cost))
    assert " ".join(chunks).split() == STORY.split()
    seconds = [len(chunk.encode()) / rate for chunk in chunks]
    assert seconds[0] <= 1.0 + 0.5  # about a second of speech (cut at a word)
    assert len(chunks[1].encode()) < budget  # sized to be ready in time, not full
    assert simulated_underruns(seconds, ref.seconds, 7, cost) == 0
    unpaced = chunk_text(ref, STORY, 1.0, short_first=True)
    assert " ".join(unpaced).split() == STORY.split()
    assert len(chunks) >= len(unpaced)


def test_where_the_reference_dominates_the_first_chunk_is_long_enough_to_keep_ahead(ref):
    # 0.6 s per second of audio: after a 1 s first chunk the next one (which denoises the
    # reference again) could never be ready in time; a longer first chunk lets them grow.
    cost, made = fast(0.6 / 7), []
    for _ in range(4):
        made.append(next_chunk_seconds(made, ref_seconds=3.0, steps=7, cost=cost,
                                       max_seconds=19.0))
    assert made[0] > 3.0 * 0.6 / 0.4  # the shortest start after which chunks can keep up
    assert made == sorted(made)
    assert simulated_underruns(made, 3.0, 7, cost) == 0
    budget = chunk_budget(ref, 1.0)
    rate = budget / (MAX_CHUNK_SECONDS - ref.seconds)
    chunks = chunk_text(ref, STORY, 1.0, short_first=True, pacing=Pacing(7, cost))
    assert " ".join(chunks).split() == STORY.split()
    seconds = [len(chunk.encode()) / rate for chunk in chunks]
    assert simulated_underruns(seconds, ref.seconds, 7, cost) == 0


def test_the_engine_measures_each_chunk_and_plans_streams_from_it(tiny_dir, ref_bytes):
    from tests.support.helpers import tiny_config
    from tts.engine.engine import TTSEngine
    from tts.engine.synthesis import SynthesisParams

    engine = TTSEngine(tiny_config(tiny_dir))
    ref = engine.prepare_reference(ref_bytes, REF_TEXT)[0]
    params = SynthesisParams(nfe_step=4, seed=3)
    assert engine.pacing("tiny-f5", params).cost.per_step_second is None
    engine.generate("tiny-f5", ref, "A first sentence to measure the model by.", params)
    pacing = engine.pacing("tiny-f5", params)
    assert pacing.cost.per_step_second > 0 and pacing.steps == 4
    # A stream opened with the same pacing plans the same chunks as the count said.
    admission = engine.admit("tiny-f5")
    stream = engine.open_stream(admission, ref, STORY, params, streaming=True, pacing=pacing)
    try:
        assert stream.total_chunks == engine.chunk_count(ref, STORY, params, streaming=True,
                                                         model_id="tiny-f5", pacing=pacing)
    finally:
        stream.close()


def test_fixed_pacing_ignores_the_measured_cost(tiny_dir, ref_bytes):
    """TTS_STREAM_PACING=fixed: a stream's chunks are the same whatever this machine measured
    (first about a second, the rest full-size), so its seed reproduces on any machine."""
    from dataclasses import replace

    from tests.support.helpers import tiny_config
    from tts.engine.engine import TTSEngine
    from tts.engine.synthesis import SynthesisParams

    engine = TTSEngine(replace(tiny_config(tiny_dir), stream_pacing="fixed"))
    ref = engine.prepare_reference(ref_bytes, REF_TEXT)[0]
    params = SynthesisParams(nfe_step=4, seed=3)
    engine.generate("tiny-f5", ref, "A first sentence to measure the model by.", params)
    assert engine.chunk_cost("tiny-f5").per_step_second > 0  # measured, and not used:
    assert engine.pacing("tiny-f5", params) == Pacing(steps=4)
