"""Memory of a long-running server process: garbage with audio in it is freed soon.

Each generation leaves reference cycles behind (DRF's response and serializer point back at
themselves) that hold the request's audio: the upload, the encoded file, its base64 and the
rendered JSON, about a megabyte a request. Only a full collection frees cycles, and CPython
runs one only when the objects that survived since the last exceed a quarter of all
long-lived objects: with torch, Django and the models imported that is hundreds of thousands
of objects, so the garbage of hundreds of requests piled up first, and the allocator's heaps,
fragmented by it, kept growing (docs/performance.md, soak).

Once the server has started (models loaded and warmed, or given up on), everything alive is
moved out of the collector's sight with ``gc.freeze()``: full collections then look at what
requests left behind only, so they come often and cost little. Every few seconds a
housekeeping pass also collects, then hands the allocator's free pages back to the system
(glibc's ``malloc_trim``), so the resident size follows what is in use.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import logging
import threading
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)


def freeze_startup_objects() -> int:
    """Collect the garbage of the start, then exempt every object alive now from future
    collections. Returns how many objects were frozen."""
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    logger.info("start-up objects frozen for the garbage collector: %d", frozen)
    return frozen


@functools.cache  # find_library runs ldconfig: once per process, not every pass
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, or None (musl, macOS)."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


def housekeeping() -> None:
    """One pass: free the cycles requests left, give free heap pages back to the system."""
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def freeze_when_started(started: Callable[[], bool], *, timeout: float = 600.0,
                        poll: float = 1.0, every: float | None = 10.0) -> threading.Thread:
    """In the background: wait until ``started()`` (or ``timeout`` seconds), freeze, then run
    ``housekeeping()`` every ``every`` seconds (None: never)."""

    def wait_then_freeze() -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if started():
                    break
            except Exception:  # noqa: BLE001 - not ready to say: keep waiting
                pass
            time.sleep(poll)
        freeze_startup_objects()
        while every is not None:
            time.sleep(every)
            housekeeping()

    thread = threading.Thread(target=wait_then_freeze, name="gc-freeze", daemon=True)
    thread.start()
    return thread
