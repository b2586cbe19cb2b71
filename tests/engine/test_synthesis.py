"""Generation on the tiny models: parameters change the output the way they should."""

import os
import threading

import numpy as np
import pytest

from tests.support.audio import REF_TEXT
from tts.engine.frontend import prepare
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
    spoken = prepare(LONG_TEXT).spoken_text  # chunks are cut in the normalised text
    assert "number one tells" in spoken
    chunks = chunk_text(ref, spoken, 1.0)
    assert len(chunks) >= 2
    assert " ".join(chunks).split() == spoken.split()
    single = generate(tiny_engine, ref, TEXT, seed=9, nfe_step=4)
    joined = generate(tiny_engine, ref, LONG_TEXT, seed=9, nfe_step=4,
                      cross_fade_duration=0.15)
    assert joined.chunks == len(chunks)
    # Each chunk is about as long as its text; cross-fades overlap 0.15 s per join.
    per_char = single.seconds / len(TEXT)
    assert joined.seconds > 0.6 * per_char * len(spoken)
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


def test_generation_leaves_no_temp_files(tiny_engine, ref_bytes, private_tmp):
    tiny_engine.references.clear()
    prepared, _ = tiny_engine.prepare_reference(ref_bytes, REF_TEXT)
    generate(tiny_engine, prepared, seed=1, remove_silence=True)
    assert os.listdir(private_tmp) == []


def test_timings_are_reported(tiny_engine, ref):
    result = generate(tiny_engine, ref, seed=2)
    assert {"inference_seconds", "queue_seconds", "load_seconds"} <= set(result.timings)
    assert result.timings["inference_seconds"] > 0


def test_long_text_is_reproducible_with_its_seed(tiny_engine, ref):
    runs = [generate(tiny_engine, ref, LONG_TEXT, seed=42, nfe_step=4) for _ in range(3)]
    assert runs[0].chunks >= 2
    for run in runs[1:]:
        np.testing.assert_array_equal(runs[0].samples, run.samples)


def test_seeds_hold_while_other_models_generate(tiny_engine, ref):
    alone = {model: generate(tiny_engine, ref, model=model, seed=seed).samples
             for model, seed in (("tiny-f5", 1), ("tiny-e2", 2))}
    together: dict[str, list] = {"tiny-f5": [], "tiny-e2": []}

    def run(model, seed):
        for _ in range(3):
            together[model].append(generate(tiny_engine, ref, model=model, seed=seed).samples)

    threads = [threading.Thread(target=run, args=pair) for pair in (("tiny-f5", 1),
                                                                    ("tiny-e2", 2))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    for model, outputs in together.items():
        assert len(outputs) == 3
        for samples in outputs:
            np.testing.assert_array_equal(samples, alone[model])


def test_text_without_punctuation_is_still_split(ref):
    text = " ".join(["word"] * 400)  # 2000 characters, no sentence end
    chunks = chunk_text(ref, text, 1.0)
    # upstream's budget: the reference's characters per second times (22 s - reference)
    budget = int(len(ref.ref_text.encode()) / ref.seconds * (22 - ref.seconds))
    assert budget < len(text)
    assert len(chunks) > 1
    assert " ".join(chunks).split() == text.split()
    assert all(len(c.encode()) <= budget for c in chunks)
    one_long_word = chunk_text(ref, "x" * 3000, 1.0)
    assert len(one_long_word) > 1 and "".join(one_long_word) == "x" * 3000
