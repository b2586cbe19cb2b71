"""Jobs: a generation submitted now, run in the background, watched, cancelled, fetched later.

Submission checks what it can without a model (the model, the voice, the upload), keeps the
request whole (the upload in storage, the seed fixed now) and hands the job id to the
executor: the in-process runner (inline) or a Celery worker on the model's job queue. Running
claims the job atomically (a job is run by one worker at a time; a worker that went silent
is taken over), reports progress per chunk, stops at a cancel, and stores the samples
losslessly, so the audio can be fetched in any format, equal to what generate returns.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import secrets
import socket
import threading
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import soundfile as sf
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from tts.engine import audio
from tts.engine.errors import (
    EngineBusy,
    EngineError,
    GenerationCancelled,
    InvalidReferenceAudio,
    InvalidReferenceText,
)
from tts.engine.reference import check_upload
from tts.engine.synthesis import MAX_SEED, SynthesisResult
from tts.models import Job

from . import voices
from .callbacks import check_callback_url, deliver_callback
from .errors import Conflict, InvalidInput, NotFound
from .events import job_finished
from .runtime import engine_config, runs_models_here
from .scripts import MAIN, check_script, is_script

if TYPE_CHECKING:  # torch: only in processes that run the models
    from tts.engine.stream import SpeechStream

logger = logging.getLogger(__name__)
JOB_FOLDER = "jobs"
#: A job whose worker has not beaten for this many heartbeats is taken over.
STALE_BEATS = 6
Status = Job.Status


class JobRunningElsewhere(Exception):
    """Another worker is running this job and is alive; look again later."""

    def __init__(self, check_again_seconds: float):
        super().__init__("the job is running on another worker")
        self.check_again_seconds = check_again_seconds


# --- submit, read, cancel -----------------------------------------------------------------------
def job_submit(*, owner: str = "", idempotency_key: str = "", model_id: str = "",
               ref_audio: bytes | None = None, ref_text: str = "", voice: str = "",
               gen_text: str, options: Mapping[str, Any], callback_url: str = "",
               filename: str = "") -> tuple[Job, bool]:
    """Returns the job and whether it is new (False: the same Idempotency-Key was sent
    before with the same request, and that job is returned)."""
    request_hash = _request_hash(model_id=model_id, ref_audio=ref_audio, ref_text=ref_text,
                                 voice=voice, gen_text=gen_text, options=options,
                                 callback_url=callback_url)
    if idempotency_key:
        earlier = _replayed(owner, idempotency_key, request_hash)
        if earlier is not None:
            return earlier, False
    if is_script(gen_text):
        segments, _ = check_script(gen_text)
        if not (voice or ref_audio is not None) and any(s.voice == MAIN for s in segments):
            raise InvalidInput("gen_text has words for the request's own voice ([main], or "
                               "before the first tag): send ref_audio or voice with them.",
                               code="required", attr="ref_audio")
    if callback_url:
        check_callback_url(callback_url)
    from .remote import known_model  # the configuration alone: no model is loaded

    model_id = known_model(model_id)
    if voice:
        voices.voice_get(voice_id=voice)
    if ref_audio is not None:
        check_upload(ref_audio, engine_config())  # a bad clip is refused now, not later
    options = dict(options)
    if options.get("seed") is None:  # fixed now: a job run again gives the same samples
        options["seed"] = secrets.randbelow(MAX_SEED + 1)
    job_id = uuid.uuid4()
    stored = ""
    if ref_audio is not None:
        extension = voices.clip_extension(filename)
        stored = default_storage.save(f"{JOB_FOLDER}/{job_id}/reference.{extension}",
                                      ContentFile(ref_audio))
    try:
        with transaction.atomic():
            job = Job.objects.create(
                id=job_id, owner=owner, idempotency_key=idempotency_key,
                request_hash=request_hash, model=model_id, voice=voice, ref_audio=stored,
                ref_text=ref_text, gen_text=gen_text, options=options,
                callback_url=callback_url)
            transaction.on_commit(lambda: _dispatch_or_withdraw(job))
    except IntegrityError:  # the same Idempotency-Key sent twice at the same moment
        voices.delete_files(stored)
        earlier = _replayed(owner, idempotency_key, request_hash)
        if earlier is None:
            raise
        return earlier, False
    return job, True


def job_get(*, job_id: str, owner: str = "") -> Job:
    job = None
    with contextlib.suppress(ValueError):
        job = Job.objects.filter(id=uuid.UUID(str(job_id)), owner=owner).first()
    if job is None:
        raise NotFound(f"No job {job_id!r}; list yours with GET /api/tts/jobs/.",
                       code="job_not_found", attr="id")
    return job


def job_list(*, owner: str = "", status: str = "") -> QuerySet[Job]:
    jobs = Job.objects.filter(owner=owner)
    return jobs.filter(status=status) if status else jobs


def job_cancel(*, job_id: str, owner: str = "") -> Job:
    """A queued job is cancelled at once; a running one stops within a denoising step (its
    worker watches for the request). A finished job cannot be cancelled (409)."""
    job = job_get(job_id=job_id, owner=owner)
    if Job.objects.filter(id=job.id, status=Status.QUEUED).update(
            status=Status.CANCELLED, finished_at=timezone.now(), cancel_requested=True):
        job.refresh_from_db()
        _after_finish(job)
        return job
    if not Job.objects.filter(id=job.id, status=Status.RUNNING).update(cancel_requested=True):
        job.refresh_from_db()
        raise Conflict(f"The job has already {job.status}; nothing to cancel.",
                       code="job_finished", attr="id")
    job.refresh_from_db()
    return job


def job_audio(*, job_id: str, owner: str = "", output_format: str = "wav"
              ) -> tuple[Job, bytes, str]:
    """The job's speech encoded in ``output_format``, and its content type."""
    job = job_get(job_id=job_id, owner=owner)
    if job.status != Status.SUCCEEDED:
        hint = ("poll GET /api/tts/jobs/{id}/ until status is succeeded"
                if not job.finished else "it produced no audio")
        raise Conflict(f"The job is {job.status}: {hint}.", code="job_not_succeeded", attr="id")
    with default_storage.open(job.result.name, "rb") as handle:
        samples, rate = sf.read(handle, dtype="float32")
    spec = audio.OUTPUT_FORMATS[output_format]
    return job, audio.encode(samples, rate, output_format), spec.content_type


def job_document(job: Job) -> dict:
    """The job as the API shows it and callbacks send it."""
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
        "expires_at": (job.finished_at + _retention()).isoformat() if job.finished_at else None,
        "callback_url": job.callback_url or None, "callback_status": job.callback_status or None,
        "links": {"self": path, "audio": f"{path}audio/"},
    }


# --- running (where the models are) -------------------------------------------------------------
def job_run(*, job_id: str) -> None:
    """Run a job to its end (succeeded, failed or cancelled). Nothing to do when it has
    finished; JobRunningElsewhere when another live worker has it."""
    job = _claim(job_id)
    if job is None:
        return
    try:
        if job.cancel_requested:
            raise GenerationCancelled("cancelled before it started")
        result = _generate(job)
        name = default_storage.save(f"{JOB_FOLDER}/{job.id}/speech.wav",
                                    ContentFile(_lossless_wav(result["samples"],
                                                              result["sample_rate"])))
        _finish(job, Status.SUCCEEDED, result=name, sample_rate=result["sample_rate"],
                output=result["output"], audio_seconds=result["output"]["duration"])
    except GenerationCancelled:
        _finish(job, Status.CANCELLED)
    except EngineError as exc:
        _finish(job, Status.FAILED, error=_error_shape(exc))
    except Exception:
        logger.exception("job %s failed", job.id)
        _finish(job, Status.FAILED, error={"type": "server_error", "errors": [{
            "code": "error", "detail": "The job failed on the server; see its log.",
            "attr": None}]})


def _generate(job: Job) -> dict:
    """The job's samples, sample rate and output (generate's metadata but the audio)."""
    from .generation import start_generation, start_script

    ref_audio = None
    if job.ref_audio:
        with default_storage.open(job.ref_audio.name, "rb") as handle:
            ref_audio = handle.read()
    request = {"model_id": job.model, "ref_audio": ref_audio, "ref_text": job.ref_text,
               "voice": job.voice, "gen_text": job.gen_text, "options": job.options,
               "label": f"job {job.id}"}
    if is_script(job.gen_text):
        script = start_script(**request)
        _set_total(job, script.total_chunks())
        results = []
        for stream in script.streams(admitted=lambda open_stream: _admitted(job, open_stream)):
            results.append(_collect(job, stream, after=results))
        result, output = script.finish(results)
    else:
        generation = _admitted(job, lambda: start_generation(**request))
        _set_total(job, generation.stream.total_chunks)
        result = _collect(job, generation.stream)
        output = generation.summary(round(result.seconds, 3))
        output["segments"] = [{"voice": job.voice or None, "text": job.gen_text.strip(),
                               "start": 0.0, "end": output["duration"]}]
    return {"samples": result.samples, "sample_rate": result.sample_rate, "output": output}


def _set_total(job: Job, chunks: int) -> None:
    Job.objects.filter(id=job.id).update(chunks_total=chunks)


def _collect(job: Job, stream: SpeechStream, after: list[SynthesisResult] = ()
             ) -> SynthesisResult:
    """Run ``stream`` to its end, recording progress after the chunks and seconds of the
    results ``after`` (a script's earlier parts); stops at a cancel."""
    chunks_before = sum(result.chunks for result in after)
    seconds_before = sum(result.seconds for result in after)
    stop_watching = _watch(job, stream.cancel)

    def progressed(chunk) -> None:
        """Record the chunk; a cancel that the watcher has not seen yet still stops the job
        before its next chunk."""
        Job.objects.filter(id=job.id).update(
            chunks_done=chunks_before + chunk.index + 1,
            audio_seconds=seconds_before + chunk.end, heartbeat_at=timezone.now())
        if Job.objects.filter(id=job.id, cancel_requested=True).exists():
            stream.cancel("the job was cancelled")

    try:
        return stream.collect(on_chunk=progressed)
    finally:
        stop_watching()


def _admitted(job: Job, start):
    """``start()``, waiting (not failing) while the device queue is full: a job has time."""
    while True:
        try:
            return start()
        except EngineBusy:
            if Job.objects.filter(id=job.id, cancel_requested=True).exists():
                raise GenerationCancelled("cancelled while waiting for the device") from None
            Job.objects.filter(id=job.id).update(heartbeat_at=timezone.now())
            threading.Event().wait(1.0)


def _watch(job: Job, cancel) -> Any:
    """Beat for the job and cancel it when asked, from a thread, until the returned function
    is called."""
    done = threading.Event()
    beat = settings.TTS_JOB_HEARTBEAT_SECONDS

    def run() -> None:
        from django.db import connection

        try:
            while not done.wait(min(beat, 0.5)):
                try:
                    Job.objects.filter(id=job.id).update(heartbeat_at=timezone.now())
                    if Job.objects.filter(id=job.id, cancel_requested=True).exists():
                        cancel("the job was cancelled")
                        return
                except DatabaseError as exc:  # a busy database: try again at the next beat
                    logger.warning("job %s: heartbeat failed: %s", job.id, exc)
        finally:
            connection.close()

    threading.Thread(target=run, name=f"job-{str(job.id)[:8]}", daemon=True).start()
    return done.set


def _claim(job_id: str) -> Job | None:
    now = timezone.now()
    stale = now - timedelta(seconds=STALE_BEATS * settings.TTS_JOB_HEARTBEAT_SECONDS)
    claimable = Q(status=Status.QUEUED) | Q(status=Status.RUNNING, heartbeat_at__lt=stale)
    claimed = Job.objects.filter(claimable, id=job_id).update(
        status=Status.RUNNING, attempts=F("attempts") + 1, started_at=now, heartbeat_at=now,
        worker=f"{socket.gethostname()}:{os.getpid()}", chunks_done=0, audio_seconds=0.0)
    job = Job.objects.filter(id=job_id).first()
    if claimed:
        return job
    if job is None or job.finished:
        return None
    raise JobRunningElsewhere(STALE_BEATS * settings.TTS_JOB_HEARTBEAT_SECONDS)


def _finish(job: Job, status: str, **fields: Any) -> None:
    Job.objects.filter(id=job.id).update(status=status, finished_at=timezone.now(), **fields)
    job.refresh_from_db()
    logger.info("job %s %s after %d of %s chunks", job.id, status, job.chunks_done,
                job.chunks_total)
    _after_finish(job)


def _after_finish(job: Job) -> None:
    job_finished.send(sender=Job, job=job)
    if job.callback_url:
        threading.Thread(target=_call_back, args=(job,), name=f"callback-{str(job.id)[:8]}",
                         daemon=True).start()


def _call_back(job: Job) -> None:
    """Deliver the job's callback and note how it went (in a thread of its own)."""
    from django.db import connection

    try:
        deliver_callback(job.callback_url, job_document(job), on_result=lambda text: (
            Job.objects.filter(id=job.id).update(callback_status=text[:255])))
    finally:
        connection.close()  # this thread's own: nobody else closes it


# --- retention ----------------------------------------------------------------------------------
def job_purge_expired() -> int:
    """Delete finished jobs older than TTS_JOB_RETENTION_HOURS, with their files."""
    expired = Job.objects.filter(status__in=Job.FINISHED,
                                 finished_at__lt=timezone.now() - _retention())
    count = 0
    for job in expired.iterator():
        voices.delete_files(job.result.name, job.ref_audio.name)
        job.delete()
        count += 1
    if count:
        logger.info("deleted %d expired jobs", count)
    return count


def job_resume_pending() -> list[str]:
    """Ids of the jobs not finished (after a restart they are dispatched again)."""
    return [str(i) for i in Job.objects.exclude(status__in=Job.FINISHED)
            .order_by("created_at").values_list("id", flat=True)]


# --- helpers ------------------------------------------------------------------------------------
def _dispatch_or_withdraw(job: Job) -> None:
    """Hand the job to its executor; when that is impossible (the broker is down) the job is
    withdrawn, so the client's retry with the same Idempotency-Key submits it afresh."""
    try:
        _dispatch(job)
    except EngineError:
        Job.objects.filter(id=job.id).delete()
        voices.delete_files(job.ref_audio.name)
        raise


def _dispatch(job: Job) -> None:
    if runs_models_here():
        from .job_runner import inline_runner
        inline_runner().enqueue(str(job.id))
    else:
        from .remote import queue_for, send
        send("tts.run_job", [str(job.id)], queue=queue_for(job.model, jobs=True))


def _replayed(owner: str, key: str, request_hash: str) -> Job | None:
    earlier = Job.objects.filter(owner=owner, idempotency_key=key).first()
    if earlier is not None and earlier.request_hash != request_hash:
        raise Conflict("This Idempotency-Key was used with a different request; send a new "
                       "key for a new job.", code="idempotency_key_reused",
                       attr="Idempotency-Key")
    return earlier


def _request_hash(**request: Any) -> str:
    digest = hashlib.sha256()
    upload = request.pop("ref_audio")
    digest.update(hashlib.sha256(upload).digest() if upload is not None else b"-")
    digest.update(json.dumps(request, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _lossless_wav(samples: np.ndarray, sample_rate: int) -> bytes:
    """Float WAV: the samples exactly as made, to be encoded on request."""
    buffer = io.BytesIO()
    sf.write(buffer, samples.astype(np.float32, copy=False), sample_rate, format="WAV",
             subtype="FLOAT")
    return buffer.getvalue()


def _error_shape(exc: EngineError) -> dict:
    """The error as the API would have answered it: the input's fault or the server's."""
    kind = ("validation_error" if isinstance(exc, InvalidReferenceAudio | InvalidReferenceText
                                             | InvalidInput) else "server_error")
    return {"type": kind, "errors": [{"code": exc.code, "detail": exc.message,
                                      "attr": exc.attr}]}


def _retention() -> timedelta:
    return timedelta(hours=settings.TTS_JOB_RETENTION_HOURS)


