"""The device's queue and model pool: bounded admission, first-come turns, loads outside the
turns, least-recently-used eviction, out-of-memory as a typed error."""

from __future__ import annotations

import gc
import threading
import time
import weakref
from dataclasses import replace

import pytest

from tests.support.audio import REF_TEXT
from tests.support.helpers import device_held, tiny_config
from tts.engine.backends.f5 import FlowMatchingBackend
from tts.engine.engine import TTSEngine
from tts.engine.errors import EngineBusy, OutOfMemory
from tts.engine.synthesis import SynthesisParams

FAST = SynthesisParams(nfe_step=4, seed=5)
TEXT = "A short sentence to say."


def engine_with(tiny_dir, **overrides) -> TTSEngine:
    return TTSEngine(replace(tiny_config(tiny_dir), **overrides))


@pytest.fixture(scope="module")
def ref(tiny_engine, ref_bytes):
    return tiny_engine.prepare_reference(ref_bytes, REF_TEXT)[0]


def wait_until(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


def test_admission_is_bounded_and_refused_before_any_work(tiny_dir, ref):
    engine = engine_with(tiny_dir, max_queue=1, queue_timeout=30)
    served = []
    with device_held(engine):
        waiter = threading.Thread(target=lambda: served.append(
            engine.generate("tiny-e2", ref, TEXT, FAST)))  # any model: the device is shared
        waiter.start()
        wait_until(lambda: engine.queue_depth() == 1)
        with pytest.raises(EngineBusy, match="retry"):
            engine.admit("tiny-f5")
    waiter.join(60)
    assert len(served) == 1 and engine.queue_depth() == 0
    engine.admit("tiny-f5").release()  # places come back


def test_zero_queue_still_serves_an_idle_device(tiny_dir, ref):
    engine = engine_with(tiny_dir, max_queue=0)
    assert engine.generate("tiny-f5", ref, TEXT, FAST).seconds > 0
    with device_held(engine), pytest.raises(EngineBusy):
        engine.admit("tiny-f5")


def test_waiting_longer_than_the_queue_timeout_gives_engine_busy(tiny_dir, ref):
    engine = engine_with(tiny_dir, queue_timeout=0.05)
    with device_held(engine), pytest.raises(EngineBusy, match="busy"):
        engine.generate("tiny-f5", ref, TEXT, FAST)
    assert engine.queue.admitted() == 0


def test_turns_go_in_arrival_order(tiny_dir, ref):
    engine = engine_with(tiny_dir, max_queue=8)
    served: list[int] = []

    def request(number: int) -> None:
        engine.generate("tiny-f5", ref, TEXT, FAST)
        served.append(number)

    threads = []
    with device_held(engine):
        for number in range(5):
            threads.append(threading.Thread(target=request, args=(number,)))
            threads[-1].start()
            wait_until(lambda n=number: len(engine.queue._waiters) == n + 1)  # in line, in order
    for thread in threads:
        thread.join(60)
    assert served == [0, 1, 2, 3, 4]


def test_a_long_generation_lets_a_later_request_in_between_its_chunks(
        tiny_dir, ref, monkeypatch):
    engine = engine_with(tiny_dir)
    order: list[str] = []
    real = FlowMatchingBackend.synthesize_chunk
    first_chunk_started = threading.Event()
    go_on = threading.Event()

    def recording(self, prepared, ref_text, text, *args, **kwargs):
        order.append(text[:5])
        if text.startswith("Long"):
            first_chunk_started.set()
            go_on.wait(30)
        return real(self, prepared, ref_text, text, *args, **kwargs)

    monkeypatch.setattr(FlowMatchingBackend, "synthesize_chunk", recording)
    long_text = " ".join(["Long sentence to keep the device busy for a while."] * 12)
    long_run = threading.Thread(target=engine.generate,
                                args=("tiny-f5", ref, long_text, FAST))
    long_run.start()
    first_chunk_started.wait(30)
    short_run = threading.Thread(target=engine.generate, args=("tiny-f5", ref, "Short one.",
                                                                FAST))
    short_run.start()
    wait_until(lambda: len(engine.queue._waiters) == 1)  # the short one is in line
    go_on.set()
    short_run.join(60)
    long_run.join(120)
    assert order.count("Short") == 1
    assert order.index("Short") == 1, order  # right after the long one's first chunk
    assert order.count("Long ") >= 2


def test_a_model_loading_does_not_hold_up_a_loaded_model(tiny_dir, ref, monkeypatch):
    engine = engine_with(tiny_dir)
    engine.load_model("tiny-f5")
    loading, finish = threading.Event(), threading.Event()
    real = FlowMatchingBackend.load

    def slow(self, files, vocoder):
        if self.spec.id == "tiny-e2":
            loading.set()
            finish.wait(30)
        return real(self, files, vocoder)

    monkeypatch.setattr(FlowMatchingBackend, "load", slow)
    results = {}
    slow_request = threading.Thread(target=lambda: results.setdefault(
        "e2", engine.generate("tiny-e2", ref, TEXT, FAST)))
    slow_request.start()
    loading.wait(30)
    results["f5"] = engine.generate("tiny-f5", ref, TEXT, FAST)  # served while e2 loads
    assert "e2" not in results
    assert results["f5"].timings["load_seconds"] == 0
    finish.set()
    slow_request.join(60)
    assert results["e2"].timings["load_seconds"] > 0


def test_waiting_for_a_slow_load_is_bounded(tiny_dir, monkeypatch):
    engine = engine_with(tiny_dir, queue_timeout=0.1)
    started, finish = threading.Event(), threading.Event()
    real = FlowMatchingBackend.load

    def slow(self, files, vocoder):
        started.set()
        finish.wait(30)
        return real(self, files, vocoder)

    monkeypatch.setattr(FlowMatchingBackend, "load", slow)
    loader = threading.Thread(target=engine.load_model, args=("tiny-f5",))
    loader.start()
    started.wait(30)
    with pytest.raises(EngineBusy, match="loading"):
        engine.pool.acquire("tiny-f5")
    finish.set()
    loader.join(30)
    assert engine.loaded_models() == ["tiny-f5"]


def test_least_recently_used_model_is_evicted_and_its_memory_released(tiny_dir, ref):
    engine = engine_with(tiny_dir, max_loaded_models=1)
    first = engine.generate("tiny-f5", ref, TEXT, FAST)
    lease = engine.pool.acquire("tiny-f5")
    f5_model = weakref.ref(lease.backend._model)
    lease.release()
    engine.generate("tiny-e2", ref, TEXT, FAST)
    assert engine.loaded_models() == ["tiny-e2"]
    assert engine.model_status("tiny-f5").state == "available"
    gc.collect()
    assert f5_model() is None  # no reference left anywhere: the tensors are gone
    again = engine.generate("tiny-f5", ref, TEXT, FAST)  # reloaded, same result
    assert again.timings["load_seconds"] > 0
    assert (again.samples == first.samples).all()
    assert engine.loaded_models() == ["tiny-f5"]


def test_a_model_in_use_is_never_evicted(tiny_dir):
    engine = engine_with(tiny_dir, max_loaded_models=1, queue_timeout=0.1)
    lease = engine.pool.acquire("tiny-f5")  # a generation holds it
    with pytest.raises(EngineBusy, match="TTS_MAX_LOADED_MODELS"):
        engine.pool.acquire("tiny-e2")
    assert engine.loaded_models() == ["tiny-f5"]
    lease.release()
    engine.pool.acquire("tiny-e2").release()
    assert engine.loaded_models() == ["tiny-e2"]


def test_out_of_memory_is_a_typed_error_and_frees_the_device(tiny_dir, ref, monkeypatch):
    engine = engine_with(tiny_dir)
    real = FlowMatchingBackend.synthesize_chunk

    def exhausted(self, *args, **kwargs):
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(FlowMatchingBackend, "synthesize_chunk", exhausted)
    with pytest.raises(OutOfMemory, match="shorter text"):
        engine.generate("tiny-f5", ref, TEXT, FAST)
    monkeypatch.setattr(FlowMatchingBackend, "synthesize_chunk", real)
    assert engine.queue.admitted() == 0
    assert engine.generate("tiny-f5", ref, TEXT, FAST).seconds > 0


def test_queue_and_load_seconds_say_where_the_time_went(tiny_dir, ref):
    engine = engine_with(tiny_dir)
    cold = engine.generate("tiny-f5", ref, TEXT, FAST)
    assert cold.timings["load_seconds"] > 0
    results = []
    with device_held(engine):
        waiter = threading.Thread(target=lambda: results.append(
            engine.generate("tiny-f5", ref, TEXT, FAST)))
        waiter.start()
        wait_until(lambda: len(engine.queue._waiters) == 1)
        held_from = time.perf_counter()
        time.sleep(0.2)
        held = time.perf_counter() - held_from
    waiter.join(60)
    warm = results[0]
    assert warm.timings["load_seconds"] == 0
    assert warm.timings["queue_seconds"] >= held * 0.9
