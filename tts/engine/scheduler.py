"""Who may use a device, and when: bounded admission, bounded preparation, first-come turns.

A request takes a ticket before any work (a refusal costs nothing), prepares its reference
within a bound of its own, then asks for the device once per chunk. Turns go to the waiter
that asked first, so requests are served in arrival order and a long generation yields the
device between chunks to those that came after it.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import threading
import time
from collections.abc import Callable, Iterator

from .errors import EngineBusy, GenerationCancelled


class Ticket:
    """One admitted request. ``release`` (idempotent) gives its place back."""

    def __init__(self, queue: DeviceQueue):
        self._queue = queue
        self._released = False

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._queue._leave()

    def __enter__(self) -> Ticket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class DeviceQueue:
    """``max_waiting`` requests may wait while one uses the device; more are refused."""

    def __init__(self, *, max_waiting: int, timeout: float, max_preparations: int):
        self.max_waiting = max_waiting
        self.timeout = timeout
        self._cond = threading.Condition()
        self._admitted = 0
        self._busy = False
        self._waiters: list[int] = []  # heap of turn numbers
        self._numbers = itertools.count()
        self._preparations = threading.BoundedSemaphore(max(max_preparations, 1))

    # --- inspection ---------------------------------------------------------------------
    def waiting(self) -> int:
        """Admitted requests not using the device right now."""
        with self._cond:
            return max(self._admitted - (1 if self._busy else 0), 0)

    def admitted(self) -> int:
        return self._admitted

    # --- admission ----------------------------------------------------------------------
    def admit(self) -> Ticket:
        with self._cond:
            if self._admitted > self.max_waiting:
                raise EngineBusy(f"{self._admitted - 1} requests are already waiting for this "
                                 "server's device; retry shortly.")
            self._admitted += 1
        return Ticket(self)

    def _leave(self) -> None:
        with self._cond:
            self._admitted -= 1
            self._cond.notify_all()

    @contextlib.contextmanager
    def preparing(self) -> Iterator[None]:
        """A place among the reference preparations allowed at once (decoding, recognition)."""
        if not self._preparations.acquire(timeout=self.timeout):
            raise EngineBusy(f"Reference preparation stayed busy for {self.timeout:.0f} s; "
                             "retry later.")
        try:
            yield
        finally:
            self._preparations.release()

    # --- turns on the device --------------------------------------------------------------
    @contextlib.contextmanager
    def turn(self, cancelled: Callable[[], bool] = lambda: False) -> Iterator[float]:
        """Exclusive use of the device; yields the seconds waited for it."""
        started = time.perf_counter()
        deadline = time.monotonic() + self.timeout
        with self._cond:
            number = next(self._numbers)
            heapq.heappush(self._waiters, number)
            try:
                while self._busy or self._waiters[0] != number:
                    if cancelled():
                        raise GenerationCancelled("The generation was cancelled.")
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise EngineBusy(f"The device stayed busy for {self.timeout:.0f} s; "
                                         "retry later.")
                    self._cond.wait(remaining)
            except BaseException:
                self._waiters.remove(number)
                heapq.heapify(self._waiters)
                self._cond.notify_all()
                raise
            heapq.heappop(self._waiters)
            self._busy = True
        try:
            yield time.perf_counter() - started
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def wake(self) -> None:
        """Let waiters re-check whether they were cancelled."""
        with self._cond:
            self._cond.notify_all()
