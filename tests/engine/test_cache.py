"""The prepared-reference cache: a bounded, thread-safe LRU, and the engine's use of it (a hit
skips decoding, clipping and speech recognition)."""

from __future__ import annotations

import random
import sys
import threading

import numpy as np
import pytest

from tests.support.asr import REF_WORDS, shared_transcriber
from tests.support.audio import REF_TEXT
from tests.support.helpers import tiny_config
from tests.support.speech import words
from tts.engine import audio
from tts.engine.asr import Transcriber
from tts.engine.cache import BoundedCache
from tts.engine.engine import TTSEngine
from tts.engine.errors import InvalidReferenceAudio
from tts.engine.synthesis import SynthesisParams


def text_cache(max_entries: int = 10, max_bytes: int = 100) -> BoundedCache[str]:
    return BoundedCache(max_entries=max_entries, max_bytes=max_bytes, size_of=len)


# --- BoundedCache -------------------------------------------------------------------------------

def test_get_and_put_count_hits_and_misses():
    cache = text_cache()
    assert cache.get("a") is None
    cache.put("a", "alpha")
    assert cache.get("a") == "alpha"
    assert cache.stats() == {"entries": 1, "bytes": 5, "hits": 1, "misses": 1,
                             "max_entries": 10, "max_bytes": 100}


def test_evicts_the_least_recently_used_entry_beyond_max_entries():
    cache = text_cache(max_entries=2)
    cache.put("a", "1")
    cache.put("b", "2")
    assert cache.get("a") == "1"  # now "b" is the least recently used
    cache.put("c", "3")
    assert cache.get("b") is None
    assert cache.get("a") == "1" and cache.get("c") == "3"
    assert len(cache) == 2


def test_evicts_until_under_max_bytes():
    cache = text_cache(max_bytes=10)
    cache.put("a", "aaaa")
    cache.put("b", "bbbb")
    cache.put("c", "cc")
    assert cache.bytes == 10 and len(cache) == 3
    cache.put("d", "ddddd")  # 15 bytes: "a" and "b" must go
    assert cache.get("a") is None and cache.get("b") is None
    assert cache.get("c") == "cc" and cache.get("d") == "ddddd"
    assert cache.bytes == 7


def test_replacing_a_key_does_not_count_its_bytes_twice():
    cache = text_cache(max_bytes=10)
    cache.put("a", "aaaaaa")
    cache.put("a", "aaaaaaaa")
    assert cache.bytes == 8 and len(cache) == 1
    assert cache.get("a") == "aaaaaaaa"


def test_an_entry_larger_than_the_whole_cache_is_not_kept_and_evicts_nothing():
    cache = text_cache(max_bytes=10)
    cache.put("small", "abc")
    cache.put("huge", "x" * 11)
    assert cache.get("huge") is None
    assert cache.get("small") == "abc"
    assert cache.bytes == 3


def test_a_cache_of_size_zero_keeps_nothing():
    for cache in (text_cache(max_entries=0), text_cache(max_bytes=0)):
        cache.put("a", "a")
        assert cache.get("a") is None and len(cache) == 0 and cache.bytes == 0


def test_clear():
    cache = text_cache()
    cache.put("a", "abc")
    cache.clear()
    assert len(cache) == 0 and cache.bytes == 0 and cache.get("a") is None


def test_bounds_hold_under_concurrent_use():
    """Eight threads putting and getting at once: the books always balance."""
    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        cache = text_cache(max_entries=20, max_bytes=200)
        gets = [0] * 8
        errors: list[BaseException] = []

        def work(worker: int):
            rng = random.Random(worker)
            try:
                for _ in range(3000):
                    key = rng.randrange(60)
                    if rng.random() < 0.5:
                        cache.put(key, "x" * rng.randrange(1, 30))
                    else:
                        value = cache.get(key)
                        assert value is None or set(value) == {"x"}
                        gets[worker] += 1
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(old_interval)

    assert errors == []
    assert len(cache) <= 20
    assert cache.bytes <= 200
    assert cache.bytes == sum(size for _, size in cache._items.values())
    assert all(size == len(value) for value, size in cache._items.values())
    assert cache.hits + cache.misses == sum(gets)


# --- the engine's reference cache -----------------------------------------------------------------

class Calls:
    """Counts calls of a real function and calls through."""

    def __init__(self, monkeypatch, owner, name: str):
        self.count = 0
        real = getattr(owner, name)

        def counting(*args, **kwargs):
            self.count += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(owner, name, counting)


@pytest.fixture
def counted(monkeypatch):
    """Call counters around the real decoder, clipper and transcriber."""
    import tts.engine.reference as reference_module

    return {
        "decode": Calls(monkeypatch, audio, "decode"),
        "clip": Calls(monkeypatch, reference_module, "validate_and_clip"),
        "asr": Calls(monkeypatch, Transcriber, "transcribe"),
    }


def counts(counted) -> dict[str, int]:
    return {name: calls.count for name, calls in counted.items()}


def test_second_request_with_the_same_clip_skips_decoding_clipping_and_asr(
        tiny_dir, ref_bytes, counted):
    engine = TTSEngine(tiny_config(tiny_dir), transcriber=shared_transcriber())

    first, cached = engine.prepare_reference(ref_bytes, "")
    assert not cached and first.transcribed
    assert counts(counted) == {"decode": 1, "clip": 1, "asr": 1}

    second, cached = engine.prepare_reference(ref_bytes, "")
    assert cached
    assert second is first
    assert REF_WORDS.issubset(words(second.ref_text))
    assert counts(counted) == {"decode": 1, "clip": 1, "asr": 1}  # nothing ran again
    assert engine.references.stats()["hits"] == 1


def test_the_key_is_the_audio_and_the_transcript(tiny_dir, ref_bytes, counted, ref_wav,
                                                 tmp_path):
    from tests.support.audio import convert

    engine = TTSEngine(tiny_config(tiny_dir))
    engine.prepare_reference(ref_bytes, REF_TEXT)
    assert engine.prepare_reference(ref_bytes, f"  {REF_TEXT} ")[1]  # same, once stripped
    assert not engine.prepare_reference(ref_bytes, "Another transcript.")[1]
    # Same speech, other bytes (a FLAC of the same recording): another entry.
    flac = convert(ref_wav, tmp_path / "ref.flac").read_bytes()
    assert not engine.prepare_reference(flac, REF_TEXT)[1]
    assert counted["decode"].count == 3
    assert len(engine.references) == 3


def test_failed_preparations_are_not_cached(tiny_dir, counted):
    engine = TTSEngine(tiny_config(tiny_dir))
    silent = audio.encode(np.zeros(3 * audio.SAMPLE_RATE, np.float32), audio.SAMPLE_RATE, "wav")
    for _ in range(2):
        with pytest.raises(InvalidReferenceAudio, match="silent"):
            engine.prepare_reference(silent, "Nothing.")
    assert counted["decode"].count == 2
    assert len(engine.references) == 0


def test_entry_bound_from_config(tiny_dir, ref_bytes, counted):
    engine = TTSEngine(tiny_config(tiny_dir, ref_cache_entries=2))
    for text in ("One.", "Two.", "Three."):
        engine.prepare_reference(ref_bytes, text)
    assert len(engine.references) == 2
    assert engine.prepare_reference(ref_bytes, "Three.")[1]
    assert engine.prepare_reference(ref_bytes, "Two.")[1]
    assert not engine.prepare_reference(ref_bytes, "One.")[1]  # evicted, prepared again
    assert counted["decode"].count == 4


def test_byte_bound_from_config(tiny_dir, ref_bytes, counted):
    engine = TTSEngine(tiny_config(tiny_dir, ref_cache_mb=1))
    first, _ = engine.prepare_reference(ref_bytes, "One.")
    per_entry = first.nbytes
    fits = 2**20 // per_entry
    assert fits >= 1  # a 4 s reference (~360 kB) fits in 1 MB at least once
    for i in range(fits + 2):
        engine.prepare_reference(ref_bytes, f"Text {i}.")
    assert engine.references.bytes <= 2**20
    assert len(engine.references) == fits
    assert not engine.prepare_reference(ref_bytes, "One.")[1]  # evicted first


def test_cache_disabled_by_config_still_works(tiny_dir, ref_bytes, counted):
    engine = TTSEngine(tiny_config(tiny_dir, ref_cache_entries=0))
    assert not engine.prepare_reference(ref_bytes, REF_TEXT)[1]
    assert not engine.prepare_reference(ref_bytes, REF_TEXT)[1]
    assert counted["decode"].count == 2


def test_a_cached_reference_generates_exactly_what_a_fresh_one_does(tiny_dir, ref_bytes):
    """Using a cached entry must not alter it (the model gets the same reference again)."""
    engine = TTSEngine(tiny_config(tiny_dir))
    params = SynthesisParams(nfe_step=4, seed=7)
    ref, _ = engine.prepare_reference(ref_bytes, REF_TEXT)
    before = ref.samples.copy()
    first = engine.generate("tiny-f5", ref, "Some words to say.", params)
    again, cached = engine.prepare_reference(ref_bytes, REF_TEXT)
    assert cached
    np.testing.assert_array_equal(again.samples, before)
    second = engine.generate("tiny-f5", again, "Some words to say.", params)
    np.testing.assert_array_equal(first.samples, second.samples)

    fresh_engine = TTSEngine(tiny_config(tiny_dir))
    fresh, cached = fresh_engine.prepare_reference(ref_bytes, REF_TEXT)
    assert not cached
    third = fresh_engine.generate("tiny-f5", fresh, "Some words to say.", params)
    np.testing.assert_array_equal(first.samples, third.samples)
