"""Finished jobs are kept TTS_JOB_RETENTION_HOURS, then deleted with their files."""

from __future__ import annotations

import logging

from django.utils import timezone

from tts.models import Job
from tts.work.voices import delete_files

from .document import retention

logger = logging.getLogger(__name__)


def job_purge_expired() -> int:
    """Delete finished jobs older than TTS_JOB_RETENTION_HOURS, with their files."""
    expired = Job.objects.filter(status__in=Job.FINISHED,
                                 finished_at__lt=timezone.now() - retention())
    count = 0
    for job in expired.iterator():
        delete_files(job.result.name, job.ref_audio.name)
        job.delete()
        count += 1
    if count:
        logger.info("deleted %d expired jobs", count)
    return count
