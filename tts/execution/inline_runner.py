"""Inline mode's background work, each on a thread of the server process:

- the job runner runs queued jobs one after the other, taken from the database (so jobs a
  previous process left are resumed, and several server processes share them: a claim is
  atomic), sweeps for running jobs whose runner died, and deletes expired jobs and orphaned
  files every TTS_JOB_PURGE_SECONDS;
- the callback deliverer delivers the callbacks that are due, and retries them with backoff.

Jobs take their place in the device queue chunk by chunk like any request, so interactive
requests keep being served between a long job's chunks. Both threads start on first use or
at the server's start, whichever comes first.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.db import close_old_connections, connection

from tts.work.jobs.callbacks import deliver_due, due_callbacks, seconds_until_next_callback
from tts.work.jobs.retention import job_purge_expired
from tts.work.jobs.run import JobRunningElsewhere, job_run, next_queued
from tts.work.jobs.sweep import announce_takeovers, requeue_stale
from tts.work.orphans import sweep_orphans

logger = logging.getLogger(__name__)
#: The longest a deliverer sleeps with nothing due (a callback made due by another process).
CALLBACK_IDLE_SECONDS = 30.0


class _Worker:
    """A daemon thread that does a pass, then sleeps until woken or until the pass's answer
    (seconds) runs out. Started by the first wake."""

    name = "tts-worker"

    def __init__(self) -> None:
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stopped = False

    def wake(self) -> None:
        with self._lock:
            if self._thread is None and not self._stopped:
                self._thread = threading.Thread(target=self._loop, name=self.name,
                                                daemon=True)
                self._thread.start()
        self._wake.set()

    def stop(self, timeout: float = 60.0) -> None:
        """End the thread after its current pass (a running job runs to its end)."""
        with self._lock:
            self._stopped = True
            thread = self._thread
        self._wake.set()
        if thread is not None:
            thread.join(timeout)

    def _loop(self) -> None:
        while not self._stopped:
            self._wake.clear()
            close_old_connections()
            try:
                pause = self.work()
            except Exception:
                logger.exception("%s: a pass failed", self.name)
                pause = 5.0
            finally:
                connection.close()  # this thread's own: nobody else closes it
            self._wake.wait(pause)

    def work(self) -> float:
        raise NotImplementedError


class InlineJobRunner(_Worker):
    name = "tts-jobs"

    def __init__(self, on_finished: Callable[[str], None] = lambda job_id: None) -> None:
        super().__init__()
        self.on_finished = on_finished
        self._last_purge: float | None = None

    def work(self) -> float:
        if self._last_purge is None:  # the first pass, at start
            announce_takeovers()
        if (self._last_purge is None
                or time.monotonic() - self._last_purge >= settings.TTS_JOB_PURGE_SECONDS):
            self._last_purge = time.monotonic()
            job_purge_expired()
            sweep_orphans()
        requeue_stale()
        while (job_id := next_queued()) is not None:
            try:
                job = job_run(job_id=job_id)
            except JobRunningElsewhere:  # another server process claimed it first
                continue
            if job is not None and job.callback_due_at is not None:
                self.on_finished(job_id)
        return settings.TTS_JOB_SWEEP_SECONDS


class CallbackDeliverer(_Worker):
    name = "tts-callbacks"

    def work(self) -> float:
        for job_id in due_callbacks():
            deliver_due(job_id)
        due_in = seconds_until_next_callback()
        if due_in is None:
            return CALLBACK_IDLE_SECONDS
        return min(max(due_in, 0.05), CALLBACK_IDLE_SECONDS)
