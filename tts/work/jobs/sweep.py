"""Taking over the jobs of a worker that died, whatever died: a pool process, the whole
worker, its machine. Its heartbeat goes quiet; after ``STALE_BEATS`` heartbeats the job is
put back in the queue by whichever sweeper sees it first (one conditional UPDATE: two
sweepers racing requeue it once), to be run again from the start with the same seed.

Every process that runs jobs sweeps on a timer and at start (tts.execution), so an operator
configures nothing for it.
"""

from __future__ import annotations

import logging

from django.utils import timezone

from tts.models import Job

from .run import STALE_BEATS, stale_after

logger = logging.getLogger(__name__)


def requeue_stale() -> list[Job]:
    """Running jobs whose heartbeat went quiet, put back in the queue; the caller hands each
    to a worker again."""
    quiet_since = timezone.now() - stale_after()
    requeued = []
    candidates = Job.objects.filter(status=Job.Status.RUNNING, heartbeat_at__lt=quiet_since)
    for job in candidates:
        if Job.objects.filter(id=job.id, status=Job.Status.RUNNING, attempts=job.attempts,
                              heartbeat_at__lt=quiet_since).update(status=Job.Status.QUEUED):
            logger.warning("job %s: its worker %s went quiet during attempt %d; queued again",
                           job.id, job.worker or "?", job.attempts)
            job.status = Job.Status.QUEUED
            requeued.append(job)
    return requeued


def announce_takeovers() -> None:
    """At start: say which running jobs will be taken over and when (their worker, perhaps
    this server before a restart, may still be alive: it has until its heartbeat is stale)."""
    now = timezone.now()
    for job in Job.objects.filter(status=Job.Status.RUNNING):
        due = (job.heartbeat_at or now) + stale_after()
        logger.warning("job %s is running on %s (last heartbeat %.0f s ago); if that worker "
                       "is gone it is taken over in %.0f s, once %d heartbeats are missed",
                       job.id, job.worker or "?", (now - (job.heartbeat_at or now))
                       .total_seconds(), max((due - now).total_seconds(), 0), STALE_BEATS)
