"""Cancelling a job."""

from __future__ import annotations

from tts.execution import executor
from tts.models import Job
from tts.work.errors import Conflict
from tts.work.jobs.run import cancel_queued

from .records import job_get


def job_cancel(*, job_id: str, owner: str | None = "") -> Job:
    """A queued job is cancelled at once; a running one stops within a denoising step (its
    worker watches for the request). A finished job cannot be cancelled (409)."""
    job = job_get(job_id=job_id, owner=owner)
    if cancel_queued(job):
        if job.callback_due_at:
            executor().deliver_callback(job_id=str(job.id))
        return job
    if not Job.objects.filter(id=job.id, status=Job.Status.RUNNING).update(
            cancel_requested=True):
        job.refresh_from_db()
        raise Conflict(f"The job has already {job.status}; nothing to cancel.",
                       code="job_finished", attr="id")
    job.refresh_from_db()
    return job
