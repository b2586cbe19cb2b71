"""Start-up objects are frozen for the garbage collector once the server has started, so that
the reference cycles requests leave (with their audio) are freed by automatic collections."""

from __future__ import annotations

import gc
import threading
import time
import weakref

from tts.observability import memory


def test_freezes_once_started(monkeypatch):
    calls = []
    monkeypatch.setattr(memory, "freeze_startup_objects", lambda: calls.append("frozen"))
    started = threading.Event()
    thread = memory.freeze_when_started(started.is_set, poll=0.01, every=None)
    time.sleep(0.1)
    assert calls == []
    started.set()
    thread.join(5)
    assert calls == ["frozen"]


def test_freezes_anyway_after_the_timeout(monkeypatch):
    calls = []
    monkeypatch.setattr(memory, "freeze_startup_objects", lambda: calls.append("frozen"))
    memory.freeze_when_started(lambda: False, timeout=0.05, poll=0.01, every=None).join(5)
    assert calls == ["frozen"]


class Reply:
    """Points back at itself, as DRF's response does, and holds a megabyte of audio."""

    def __init__(self):
        self.audio = bytes(2**20)
        self.context = {"response": self}


def test_after_the_freeze_automatic_collections_free_request_cycles():
    try:
        assert memory.freeze_startup_objects() > 0
        reply = Reply()
        gone = weakref.ref(reply)
        gc.collect()  # the reply outlives the collections made while the request runs
        del reply
        assert gone() is not None  # a cycle: reference counting alone cannot free it
        allocated = 0
        while gone() is not None and allocated < 1_000_000:  # later requests leave cycles too
            cycle = []
            cycle.append(cycle)
            allocated += 1
        assert gone() is None, "not collected"
        assert allocated < 500_000  # soon (without the freeze: not within a million here)
    finally:
        gc.unfreeze()


def test_housekeeping_frees_cycles_and_trims():
    reply = Reply()
    gone = weakref.ref(reply)
    del reply
    memory.housekeeping()
    assert gone() is None
    assert memory._malloc_trim() is not None  # glibc here: free pages go back to the system
