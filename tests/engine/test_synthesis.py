"""Generation on the tiny models: parameters change the output the way they should."""

import os
import threading

import numpy as np
import pytest

from tests.conftest import REF_TEXT
from tts.engine.errors import EngineBusy
from tts.engine.synthesis import MAX_SEED, SynthesisParams, chunk_text

TEXT = "The quick brown fox jumps over the lazy dog."
LONG_TEXT = " ".join(
    f"Sentence number {n} tells a short story about a fox, a dog and a very patient owl."
    for n in range(1, 9))


@pytest.fixture(scope="module")
def ref(tiny_engine, ref_bytes):
    prepared, _ = tiny_engine.prepare_reference(ref_bytes, REF_TEXT)
    return prepared


def generate(engine, ref, text=TEXT, model="tiny-f5", **params):
    params.setdefault("nfe_step", 8)
    return engine.generate(model, ref, text, SynthesisParams(**params))


@pytest.mark.parametrize("model", ["tiny-f5", "tiny-e2"])
def test_same_seed_same_samples_different_seed_different(tiny_engine, ref, model):
    first = generate(tiny_engine, ref, model=model, seed=1234)
    again = generate(tiny_engine, ref, model=model, seed=1234)
    other = generate(tiny_engine, ref, model=model, seed=4321)
    assert first.seed == again.seed == 1234
    np.testing.assert_array_equal(first.samples, again.samples)
    assert first.samples.shape == other.samples.shape
    assert not np.allclose(first.samples, other.samples)


def test_text_changes_the_output(tiny_engine, ref):
    one = generate(tiny_engine, ref, "Good morning to you all.", seed=5)
    two = generate(tiny_engine, ref, "Bad evening for us here.", seed=5)
    assert not np.allclose(one.samples[:4000], two.samples[:4000])


def test_random_seed_is_chosen_and_returned(tiny_engine, ref):
    seeds = {generate(tiny_engine, ref, seed=None).seed for _ in range(3)}
    assert all(0 <= seed <= MAX_SEED for seed in seeds)
    assert len(seeds) == 3


def test_random_seeds_do_not_repeat_after_a_seeded_request(tiny_engine, ref):
    picked = []
    for _ in range(2):
        generate(tiny_engine, ref, seed=1)  # reseeds the process-wide generators
        picked.append(generate(tiny_engine, ref, seed=None).seed)
    assert picked[0] != picked[1]


def test_speed_two_is_clearly_shorter(tiny_engine, ref):
    normal = generate(tiny_engine, ref, seed=3, speed=1.0)
    fast = generate(tiny_engine, ref, seed=3, speed=2.0)
    assert fast.seconds < 0.65 * normal.seconds


def test_long_text_is_chunked_and_joined(tiny_engine, ref):
    chunks = chunk_text(ref, LONG_TEXT, 1.0)
    assert len(chunks) >= 2
    assert " ".join(chunks).split() == LONG_TEXT.split()
    single = generate(tiny_engine, ref, TEXT, seed=9, nfe_step=4)
    joined = generate(tiny_engine, ref, LONG_TEXT, seed=9, nfe_step=4,
                      cross_fade_duration=0.15)
    assert joined.chunks == len(chunks)
    # Each chunk is about as long as its text; cross-fades overlap 0.15 s per join.
    per_char = single.seconds / len(TEXT)
    assert joined.seconds > 0.6 * per_char * len(LONG_TEXT)
    assert joined.seconds > (len(chunks) - 1) * 0.15


def test_cross_fade_shortens_joins(tiny_engine, ref):
    hard = generate(tiny_engine, ref, LONG_TEXT, seed=9, nfe_step=4, cross_fade_duration=0.0)
    soft = generate(tiny_engine, ref, LONG_TEXT, seed=9, nfe_step=4, cross_fade_duration=0.5)
    joins = hard.chunks - 1
    assert joins >= 1
    assert hard.seconds - soft.seconds == pytest.approx(0.5 * joins, abs=0.01)


def test_remove_silence_runs_and_never_lengthens(tiny_engine, ref):
    kept = generate(tiny_engine, ref, seed=11)
    trimmed = generate(tiny_engine, ref, seed=11, remove_silence=True)
    assert 0 < trimmed.seconds <= kept.seconds + 0.01
    assert np.isfinite(trimmed.samples).all()


def test_progress_reports_every_chunk(tiny_engine, ref):
    seen = []
    result = tiny_engine.generate("tiny-f5", ref, LONG_TEXT, SynthesisParams(nfe_step=4),
                                  progress=lambda done, total: seen.append((done, total)))
    assert seen == [(n, result.chunks) for n in range(1, result.chunks + 1)]


def test_generation_leaves_no_temp_files(tiny_engine, ref_bytes, private_tmp):
    tiny_engine.references.clear()
    prepared, _ = tiny_engine.prepare_reference(ref_bytes, REF_TEXT)
    generate(tiny_engine, prepared, seed=1, remove_silence=True)
    assert os.listdir(private_tmp) == []


def test_timings_are_reported(tiny_engine, ref):
    result = generate(tiny_engine, ref, seed=2)
    assert {"inference_seconds", "queue_seconds", "load_seconds"} <= set(result.timings)
    assert result.timings["inference_seconds"] > 0


def test_queue_is_bounded(tiny_dir, ref):
    from dataclasses import replace

    from tests.conftest import tiny_config
    from tts.engine.engine import TTSEngine

    engine = TTSEngine(replace(tiny_config(tiny_dir), max_queue=1, queue_timeout=30))
    engine.models.get("tiny-f5")
    holding, release, waiting_started = threading.Event(), threading.Event(), threading.Event()
    outcome = {}

    def hold():
        with engine.models.reserve("tiny-f5"):
            holding.set()
            release.wait(30)

    def wait_in_line():
        waiting_started.set()
        with engine.models.reserve("tiny-f5"):
            outcome["second"] = "served"

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait(30)
    waiter = threading.Thread(target=wait_in_line)
    waiter.start()
    waiting_started.wait(30)
    while engine.models.waiting() < 1:  # the waiter has taken the only queue place
        threading.Event().wait(0.01)
    with pytest.raises(EngineBusy, match="retry"), engine.models.reserve("tiny-f5"):
        pass
    release.set()
    holder.join(30)
    waiter.join(30)
    assert outcome == {"second": "served"}
    assert engine.models.waiting() == 0


def test_queue_timeout_gives_engine_busy(tiny_dir):
    from dataclasses import replace

    from tests.conftest import tiny_config
    from tts.engine.engine import TTSEngine

    engine = TTSEngine(replace(tiny_config(tiny_dir), queue_timeout=0.05))
    loaded = engine.models.get("tiny-f5")
    with loaded.lock, pytest.raises(EngineBusy, match="busy"), engine.models.reserve("tiny-f5"):
        pass
