"""Celery tasks. Each takes ids and plain values and calls one service.

Requests a client waits on (generate, stream, voices) are acknowledged on receipt and expire
unrun when no worker took them in time: their client has given up, so a redelivery would
only waste a GPU. Jobs are acknowledged when done: a worker process that dies mid-job leaves
its job to be run again from the start by the next worker.
"""

from __future__ import annotations

from celery import shared_task

from tts import worker  # noqa: F401  (connects the worker processes' signals)
from tts.services import jobs, remote


@shared_task(name="tts.generate", acks_late=False)
def generate(relay_id: str, request: dict) -> None:
    remote.serve_generate(relay_id, request)


@shared_task(name="tts.stream", acks_late=False)
def stream(relay_id: str, request: dict) -> None:
    remote.serve_stream(relay_id, request)


@shared_task(name="tts.voice_create", acks_late=False)
def voice_create(relay_id: str, request: dict) -> None:
    remote.serve_voice("create", relay_id, request)


@shared_task(name="tts.voice_update", acks_late=False)
def voice_update(relay_id: str, request: dict) -> None:
    remote.serve_voice("update", relay_id, request)


@shared_task(name="tts.run_job", bind=True, acks_late=True, max_retries=None)
def run_job(self, job_id: str) -> None:
    try:
        jobs.job_run(job_id=job_id)
    except jobs.JobRunningElsewhere as exc:
        # Redis handed this job out again while its first worker still works on it (a job
        # longer than CELERY_VISIBILITY_TIMEOUT): look again later, take over if it went quiet.
        raise self.retry(countdown=exc.check_again_seconds) from None


@shared_task(name="tts.purge_jobs")
def purge_jobs() -> int:
    return jobs.job_purge_expired()
