"""Running a job where the models are: claim it (one worker at a time), generate with its
fixed seed while beating and watching for a cancel, store the samples losslessly, finish.

A claim is the row's ``attempts`` number: every later write of the run names it, so a worker
that was taken for dead (its heartbeat went quiet) and wakes up again changes nothing and
stops at its next beat.
"""

from __future__ import annotations

import io
import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import soundfile as sf
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from tts.engine.errors import (
    EngineBusy,
    EngineError,
    GenerationCancelled,
    InvalidReferenceAudio,
    InvalidReferenceText,
)
from tts.engine.synthesis import SynthesisResult
from tts.models import Job
from tts.observability.events import job_finished
from tts.work.errors import InvalidInput, storage_full
from tts.work.listening import count_checks, listening_fields, word_dicts
from tts.work.scripts import is_script, resolve_voices
from tts.work.speech import start_generation, start_script
from tts.work.voices import Tenant

if TYPE_CHECKING:  # torch: only in processes that run the models
    from tts.engine.stream import SpeechStream

logger = logging.getLogger(__name__)
JOB_FOLDER = "jobs"
#: A running job whose worker has not beaten for this many heartbeats is taken over.
STALE_BEATS = 3
#: Waits between the tries of recording a job's end while the database fails.
FINISH_RETRY_SECONDS = (0.5, 1.0, 2.0, 4.0)
Status = Job.Status


class JobRunningElsewhere(Exception):
    """Another worker is running this job and is alive; look again later."""

    def __init__(self, check_again_seconds: float):
        super().__init__("the job is running on another worker")
        self.check_again_seconds = check_again_seconds


def stale_after() -> timedelta:
    """How long a running job's heartbeat may be quiet before the job is taken over."""
    return timedelta(seconds=STALE_BEATS * settings.TTS_JOB_HEARTBEAT_SECONDS)


def job_run(*, job_id: str) -> Job | None:
    """Run a job to its end (succeeded, failed or cancelled) and return it; None when there
    was nothing to do (finished, or taken over meanwhile). JobRunningElsewhere when another
    live worker has it."""
    job = claim(job_id)
    if job is None:
        return None
    heartbeat = _Heartbeat(job)  # from the claim on: loading a model can take a while
    try:
        if job.cancel_requested:
            raise GenerationCancelled("cancelled before it started")
        result = _generate(job, heartbeat)
        name = default_storage.save(f"{JOB_FOLDER}/{job.id}/speech.wav",
                                    ContentFile(_lossless_wav(result["samples"],
                                                              result["sample_rate"])))
        return finish(job, Status.SUCCEEDED, result=name, sample_rate=result["sample_rate"],
                      output=result["output"], audio_seconds=result["output"]["duration"])
    except GenerationCancelled:
        return finish(job, Status.CANCELLED)
    except EngineError as exc:
        return finish(job, Status.FAILED, error=_error_shape(exc))
    except Exception as exc:
        if (full := storage_full(exc)) is not None:
            logger.warning("job %s failed: the storage is full (%s)", job.id, exc)
            return finish(job, Status.FAILED, error=_error_shape(full))
        logger.exception("job %s failed", job.id)
        return finish(job, Status.FAILED, error={"type": "server_error", "errors": [{
            "code": "error", "detail": "The job failed on the server; see its log.",
            "attr": None}]})
    finally:
        heartbeat.stop()


def claim(job_id: str) -> Job | None:
    """Take a queued job, or a running one whose worker went quiet (atomically: one claimant
    wins). None when it is finished or gone; JobRunningElsewhere when a live worker has it."""
    now = timezone.now()
    claimable = Q(status=Status.QUEUED) | Q(status=Status.RUNNING,
                                            heartbeat_at__lt=now - stale_after())
    claimed = Job.objects.filter(claimable, id=job_id).update(
        status=Status.RUNNING, attempts=F("attempts") + 1, started_at=now, heartbeat_at=now,
        worker=f"{socket.gethostname()}:{os.getpid()}", chunks_done=0, audio_seconds=0.0)
    job = Job.objects.filter(id=job_id).first()
    if claimed:
        return job
    if job is None or job.finished:
        return None
    raise JobRunningElsewhere(stale_after().total_seconds())


def next_queued() -> str | None:
    """The id of the oldest queued job, if any."""
    found = Job.objects.filter(status=Status.QUEUED).order_by("created_at").values_list(
        "id", flat=True).first()
    return str(found) if found else None


def finish(job: Job, status: str, **fields: Any) -> Job | None:
    """End the run (unless it was taken over meanwhile); a callback becomes due now. A
    database that fails (full, locked) is tried again a few times; failing that the error
    is raised and the job, still running with a quiet heartbeat, is taken over by a sweep."""
    now = timezone.now()
    if job.callback_url:
        fields.update(callback_due_at=now, callback_status="pending")
    for wait in (*FINISH_RETRY_SECONDS, None):
        try:
            with transaction.atomic():  # what the receivers write (audit, quota) shows with it
                updated = _mine(job).update(status=status, finished_at=now, **fields)
                if updated:
                    job.refresh_from_db()
                    job_finished.send(sender=Job, job=job)
            break
        except DatabaseError as exc:
            if wait is None:
                raise
            logger.warning("job %s: recording its end failed (%s); again in %g s", job.id,
                           exc, wait)
            threading.Event().wait(wait)
    if not updated:
        logger.warning("job %s was taken over by another worker; this run's end is dropped",
                       job.id)
        return None
    logger.info("job %s %s after %d of %s chunks", job.id, status, job.chunks_done,
                job.chunks_total)
    return job


def _mine(job: Job):
    """The job's row while this run still owns it."""
    return Job.objects.filter(id=job.id, attempts=job.attempts, status=Status.RUNNING)


def _generate(job: Job, heartbeat: _Heartbeat) -> dict:
    """The job's samples, sample rate and output (generate's metadata but the audio)."""
    ref_audio = None
    if job.ref_audio:
        with default_storage.open(job.ref_audio.name, "rb") as handle:
            ref_audio = handle.read()
    voice_keys = job.voice_keys
    if voice_keys is None:  # submitted before voice ids were per key: resolved for its owner
        voice_keys = resolve_voices(voice=job.voice, gen_text=job.gen_text,
                                    tenant=Tenant(owner=job.owner, admin=True))
    request = {"model_id": job.model, "ref_audio": ref_audio, "ref_text": job.ref_text,
               "voice": job.voice, "voice_keys": voice_keys, "gen_text": job.gen_text,
               "options": job.options, "label": f"job {job.id}"}
    if is_script(job.gen_text):
        script = start_script(**request)
        _mine(job).update(chunks_total=script.total_chunks())
        results: list[SynthesisResult] = []
        for stream in script.streams(admitted=lambda open_stream: _admitted(job, open_stream)):
            results.append(_collect(job, stream, heartbeat, after=results))
        result, output = script.finish(results)
        output.update(listening_fields(job.options, words=output.pop("words", None),
                                       checks=result.checks, with_captions=False,
                                       similarity=result.similarity))
        count_checks(script.model, result.checks, result.similarity)
    else:
        generation = _admitted(job, lambda: start_generation(**request))
        _mine(job).update(chunks_total=generation.stream.total_chunks)
        result = _collect(job, generation.stream, heartbeat)
        output = generation.summary(round(result.seconds, 3))
        output["segments"] = [{"voice": job.voice or None, "text": job.gen_text.strip(),
                               "start": 0.0, "end": output["duration"]}]
        words = (word_dicts(result.words, voice=job.voice or None)
                 if result.words is not None else None)
        output.update(listening_fields(job.options, words=words, checks=result.checks,
                                       with_captions=False, similarity=result.similarity))
        count_checks(generation.model, result.checks, result.similarity)
    return {"samples": result.samples, "sample_rate": result.sample_rate, "output": output}


def _collect(job: Job, stream: SpeechStream, heartbeat: _Heartbeat,
             after: list[SynthesisResult] = ()) -> SynthesisResult:
    """Run ``stream`` to its end, recording progress after the chunks and seconds of the
    results ``after`` (a script's earlier parts); stops at a cancel or a takeover."""
    chunks_before = sum(result.chunks for result in after)
    seconds_before = sum(result.seconds for result in after)
    heartbeat.attach(stream.cancel)

    def progressed(chunk) -> None:
        """Record the chunk; a cancel (or takeover) that the watcher has not seen yet still
        stops the job before its next chunk."""
        try:
            recorded = _mine(job).filter(cancel_requested=False).update(
                chunks_done=chunks_before + chunk.index + 1,
                audio_seconds=seconds_before + chunk.end, heartbeat_at=timezone.now())
        except DatabaseError as exc:  # progress is recorded again at the next chunk
            logger.warning("job %s: recording progress failed: %s", job.id, exc)
            return
        if not recorded:
            stream.cancel("the job was cancelled or taken over")

    try:
        return stream.collect(on_chunk=progressed)
    finally:
        heartbeat.attach(None)


def _admitted(job: Job, start: Callable[[], Any]) -> Any:
    """``start()``, waiting (not failing) while the device queue is full: a job has time."""
    while True:
        try:
            return start()
        except EngineBusy:
            if not _mine(job).filter(cancel_requested=False).update(
                    heartbeat_at=timezone.now()):
                raise GenerationCancelled("cancelled while waiting for the device") from None
            threading.Event().wait(1.0)


class _Heartbeat:
    """Beats for the job from a thread for the whole run (loading its model, waiting for the
    device, generating: only a dead worker goes quiet), and cancels the stream being collected
    when the job is cancelled or taken over by another worker."""

    def __init__(self, job: Job):
        self._job = job
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._cancel: Callable[[str], None] | None = None
        self._ended = False  # cancelled or taken over
        threading.Thread(target=self._run, name=f"job-{str(job.id)[:8]}", daemon=True).start()

    def attach(self, cancel: Callable[[str], None] | None) -> None:
        """What to call when the job ends elsewhere (the stream being collected, or None)."""
        with self._lock:
            self._cancel = cancel
            if cancel is not None and self._ended:
                cancel("the job was cancelled or taken over")

    def stop(self) -> None:
        self._done.set()

    def _run(self) -> None:
        beat = settings.TTS_JOB_HEARTBEAT_SECONDS
        try:
            while not self._done.wait(min(beat, 0.5)):
                try:
                    alive = _mine(self._job).filter(cancel_requested=False).update(
                        heartbeat_at=timezone.now())
                except DatabaseError as exc:  # a busy database: try again at the next beat
                    logger.warning("job %s: heartbeat failed: %s", self._job.id, exc)
                    continue
                if not alive:
                    with self._lock:
                        self._ended = True
                        if self._cancel is not None:
                            self._cancel("the job was cancelled or taken over")
                    return
        finally:
            connection.close()  # this thread's own: nobody else closes it


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


def cancel_queued(job: Job) -> bool:
    """Cancel ``job`` if it is still queued (its callback becomes due); False otherwise."""
    now = timezone.now()
    fields: dict[str, Any] = {"status": Status.CANCELLED, "finished_at": now,
                              "cancel_requested": True}
    if job.callback_url:
        fields.update(callback_due_at=now, callback_status="pending")
    if not Job.objects.filter(id=job.id, status=Status.QUEUED).update(**fields):
        return False
    job.refresh_from_db()
    job_finished.send(sender=Job, job=job)
    return True
