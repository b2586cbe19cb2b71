"""Celery tasks (found by the app's autodiscovery). Each takes ids or one typed message and
calls one function; the worker side of the executor is tts.execution.celery_worker.

Requests a client waits on (speech, voices) are acknowledged on receipt and expire unrun when
no worker took them in time: their client has given up, so a redelivery would only waste a
GPU. Jobs are acknowledged when done; a job whose worker died is taken over by the sweep of
any live worker (tts.work.jobs.sweep), well before Redis would hand its task out again.
"""

from __future__ import annotations

from celery import shared_task

from tts.execution import celery_worker, queues
from tts.work.jobs.callbacks import deliver_due
from tts.work.jobs.retention import job_purge_expired
from tts.work.jobs.run import JobRunningElsewhere, job_run
from tts.work.orphans import sweep_orphans


@shared_task(name=queues.SPEECH_TASK, acks_late=False)
def speech(task: dict) -> None:
    celery_worker.serve(task)


@shared_task(name=queues.VOICE_TASK, acks_late=False)
def voice(task: dict) -> None:
    celery_worker.serve(task)


@shared_task(name=queues.RUN_JOB_TASK, bind=True, acks_late=True, max_retries=None)
def run_job(self, job_id: str) -> None:
    try:
        job = job_run(job_id=job_id)
    except JobRunningElsewhere as exc:
        # Redis handed this job out again while its worker still works on it (a job longer
        # than CELERY_VISIBILITY_TIMEOUT): look again later, after the sweep if it went quiet.
        raise self.retry(countdown=exc.check_again_seconds) from None
    if job is not None and job.callback_due_at is not None:
        queues.send_deliver_callback(job_id)


@shared_task(name=queues.DELIVER_CALLBACK_TASK, bind=True, acks_late=True, max_retries=None)
def deliver_callback(self, job_id: str) -> None:
    """One attempt; a failed one is retried with exponential backoff until
    TTS_CALLBACK_ATTEMPTS (the count and the next time are kept on the job)."""
    retry_in = deliver_due(job_id)
    if retry_in is not None:
        raise self.retry(countdown=retry_in)


@shared_task(name=queues.PURGE_JOBS_TASK)
def purge_jobs() -> int:
    """Expired jobs, then files that nothing names any more."""
    count = job_purge_expired()
    sweep_orphans()
    return count
