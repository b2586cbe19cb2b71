"""Inline mode's job executor: one thread in the server process runs jobs in turn.

Jobs take their place in the device queue chunk by chunk like any request, so interactive
requests keep being served between a long job's chunks. At start the jobs that a previous
process left unfinished are run again, and every hour expired jobs are deleted.
"""

from __future__ import annotations

import logging
import queue
import threading
import time

from django.db import close_old_connections, connection

from . import jobs

logger = logging.getLogger(__name__)
PURGE_EVERY_SECONDS = 3600.0


class InlineJobRunner:
    def __init__(self) -> None:
        self._ids: queue.Queue[str] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="tts-jobs", daemon=True)
        self._last_purge = 0.0

    def start(self) -> InlineJobRunner:
        self._thread.start()
        return self

    def enqueue(self, job_id: str) -> None:
        self._ids.put(job_id)

    def _run(self) -> None:
        for job_id in self._safely(jobs.job_resume_pending) or []:
            self.enqueue(job_id)
        while True:
            self._purge_when_due()
            try:
                job_id = self._ids.get(timeout=60)
            except queue.Empty:
                continue
            try:
                self._safely(jobs.job_run, job_id=job_id)
            except jobs.JobRunningElsewhere as exc:  # another server process runs it
                threading.Timer(exc.check_again_seconds, self.enqueue, [job_id]).start()

    def _purge_when_due(self) -> None:
        if time.monotonic() - self._last_purge >= PURGE_EVERY_SECONDS:
            self._last_purge = time.monotonic()
            self._safely(jobs.job_purge_expired)

    @staticmethod
    def _safely(work, **kwargs):
        close_old_connections()
        try:
            return work(**kwargs)
        except jobs.JobRunningElsewhere:
            raise
        except Exception:
            logger.exception("job runner: %s failed", work.__name__)
            return None
        finally:
            connection.close()


_runner: InlineJobRunner | None = None
_runner_lock = threading.Lock()


def inline_runner() -> InlineJobRunner:
    """The process's runner, started on first use."""
    global _runner
    with _runner_lock:
        if _runner is None:
            _runner = InlineJobRunner().start()
        return _runner
