"""Reading jobs: one, a list, its audio in any format. A job is seen only by its owner."""

from __future__ import annotations

import contextlib
import uuid

import soundfile as sf
from django.core.files.storage import default_storage
from django.db.models import QuerySet

from tts.engine import audio
from tts.engine import captions as subtitles
from tts.models import Job
from tts.work.errors import Conflict, NotFound


def _owned(owner: str | None) -> QuerySet[Job]:
    """``owner`` None: every job (an admin key's view)."""
    return Job.objects.all() if owner is None else Job.objects.filter(owner=owner)


def job_get(*, job_id: str, owner: str | None = "") -> Job:
    job = None
    with contextlib.suppress(ValueError):
        job = _owned(owner).filter(id=uuid.UUID(str(job_id))).first()
    if job is None:
        raise NotFound(f"No job {job_id!r}; list yours with GET /api/tts/jobs/.",
                       code="job_not_found", attr="id")
    return job


def job_list(*, owner: str | None = "", status: str = "") -> QuerySet[Job]:
    jobs = _owned(owner)
    return jobs.filter(status=status) if status else jobs


def job_audio(*, job_id: str, owner: str | None = "", output_format: str = "wav"
              ) -> tuple[Job, bytes, str]:
    """The job's speech encoded in ``output_format``, and its content type."""
    job = job_get(job_id=job_id, owner=owner)
    if job.status != Job.Status.SUCCEEDED:
        hint = ("poll GET /api/tts/jobs/{id}/ until status is succeeded"
                if not job.finished else "it produced no audio")
        raise Conflict(f"The job is {job.status}: {hint}.", code="job_not_succeeded", attr="id")
    with default_storage.open(job.result.name, "rb") as handle:
        samples, rate = sf.read(handle, dtype="float32")
    spec = audio.OUTPUT_FORMATS[output_format]
    return job, audio.encode(samples, rate, output_format), spec.content_type


def active_jobs(*, owner: str) -> int:
    """How many of ``owner``'s jobs are queued or running."""
    return Job.objects.filter(owner=owner, status__in=(Job.Status.QUEUED,
                                                       Job.Status.RUNNING)).count()


def job_captions(*, job_id: str, owner: str | None = "", fmt: str = "srt") -> tuple[Job, str]:
    """The subtitles of a finished job submitted with timestamps or captions."""
    job = job_get(job_id=job_id, owner=owner)
    if job.status != Job.Status.SUCCEEDED:
        hint = ("poll GET /api/tts/jobs/{id}/ until status is succeeded"
                if not job.finished else "it produced no audio")
        raise Conflict(f"The job is {job.status}: {hint}.", code="job_not_succeeded", attr="id")
    words = (job.output or {}).get("words")
    if words is None:
        raise Conflict("The job was submitted without timestamps, so it has no word timings "
                       "to make captions from; submit it again with timestamps=true (or "
                       "captions=srt|vtt).", code="no_timestamps", attr="id")
    return job, subtitles.render(words, fmt)
