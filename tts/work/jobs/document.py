"""A job as the API shows it and its callback sends it."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings

from tts.models import Job


def retention() -> timedelta:
    return timedelta(hours=settings.TTS_JOB_RETENTION_HOURS)


def job_document(job: Job) -> dict:
    path = f"/api/tts/jobs/{job.id}/"
    return {
        "id": str(job.id), "status": job.status, "model": job.model,
        "voice": job.voice or None,
        "progress": {"chunks_done": job.chunks_done, "chunks_total": job.chunks_total,
                     "audio_seconds": round(job.audio_seconds, 3),
                     "fraction": (round(job.chunks_done / job.chunks_total, 4)
                                  if job.chunks_total else 0.0)},
        "seed": job.options.get("seed"), "output": job.output, "error": job.error,
        "cancel_requested": job.cancel_requested, "attempts": job.attempts,
        "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "expires_at": (job.finished_at + retention()).isoformat() if job.finished_at else None,
        "callback_url": job.callback_url or None, "callback_status": job.callback_status or None,
        "links": {"self": path, "audio": f"{path}audio/", "captions": f"{path}captions/"},
    }
