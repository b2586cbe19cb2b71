"""Submitting a job: checked as far as it can be without a model (the model, the voice, the
clip, the script's tags, the callback address), kept whole (the upload in storage, the seed
fixed now, so a job run again gives the same samples) and handed to the executor once the
row is committed."""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from collections.abc import Mapping
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, connection, transaction

from tts.engine.errors import EngineError
from tts.engine.reference import check_upload
from tts.engine.synthesis import MAX_SEED
from tts.execution import executor
from tts.models import Job
from tts.work.errors import Conflict, InvalidInput, LimitReached
from tts.work.jobs.callbacks import check_callback_url
from tts.work.jobs.run import JOB_FOLDER
from tts.work.runtime import engine_config, known_model
from tts.work.scripts import MAIN, check_script, is_script
from tts.work.voices import ANYONE, Tenant, clip_extension, delete_files, voice_get


def job_submit(*, owner: str = "", idempotency_key: str = "", model_id: str = "",
               ref_audio: bytes | None = None, ref_text: str = "", voice: str = "",
               gen_text: str, options: Mapping[str, Any], callback_url: str = "",
               filename: str = "", tenant: Tenant = ANYONE,
               max_active: int = 0) -> tuple[Job, bool]:
    """Returns the job and whether it is new (False: the same Idempotency-Key was sent
    before with the same request, and that job is returned). ``max_active``: how many of the
    owner's jobs may be queued or running at once (0: no cap); checked and the job created
    in one transaction, so parallel submissions cannot pass it."""
    request_hash = _request_hash(model_id=model_id, ref_audio=ref_audio, ref_text=ref_text,
                                 voice=voice, gen_text=gen_text, options=options,
                                 callback_url=callback_url)
    if idempotency_key:
        earlier = _replayed(owner, idempotency_key, request_hash)
        if earlier is not None:
            return earlier, False
    voice_keys = {}
    if is_script(gen_text):
        segments, found = check_script(gen_text, tenant=tenant)
        voice_keys = {voice_id: found_voice.pk for voice_id, found_voice in found.items()}
        if not (voice or ref_audio is not None) and any(s.voice == MAIN for s in segments):
            raise InvalidInput("gen_text has words for the request's own voice ([main], or "
                               "before the first tag): send ref_audio or voice with them.",
                               code="required", attr="ref_audio")
    if callback_url:
        check_callback_url(callback_url)
    model_id = known_model(model_id)
    if voice:
        voice_keys[voice] = voice_get(voice_id=voice, tenant=tenant).pk
    if ref_audio is not None:
        check_upload(ref_audio, engine_config())  # a bad clip is refused now, not later
    options = dict(options)
    if options.get("seed") is None:  # fixed now: a job run again gives the same samples
        options["seed"] = secrets.randbelow(MAX_SEED + 1)
    job_id = uuid.uuid4()
    stored = ""
    if ref_audio is not None:
        extension = clip_extension(filename)
        stored = default_storage.save(f"{JOB_FOLDER}/{job_id}/reference.{extension}",
                                      ContentFile(ref_audio))
    try:
        with transaction.atomic():  # SQLite: BEGIN IMMEDIATE; elsewhere the count is locked
            if max_active:
                _check_active(owner, max_active)
            job = Job.objects.create(
                id=job_id, owner=owner, idempotency_key=idempotency_key,
                request_hash=request_hash, model=model_id, voice=voice, voice_keys=voice_keys,
                ref_audio=stored,
                ref_text=ref_text, gen_text=gen_text, options=options,
                callback_url=callback_url)
            transaction.on_commit(lambda: _dispatch_or_withdraw(job))
    except IntegrityError:  # the same Idempotency-Key sent twice at the same moment
        delete_files(stored)
        earlier = _replayed(owner, idempotency_key, request_hash)
        if earlier is None:
            raise
        return earlier, False
    except BaseException:  # a full disk, a failed database: keep nothing of it
        delete_files(stored)
        raise
    return job, True


def _check_active(owner: str, max_active: int) -> None:
    if connection.vendor == "postgresql":  # SQLite's IMMEDIATE transaction already is one
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"jobs:{owner}"])
    count = Job.objects.filter(owner=owner, status__in=(Job.Status.QUEUED,
                                                        Job.Status.RUNNING)).count()
    if count >= max_active:
        raise LimitReached(f"This key has {count} jobs queued or running, its limit "
                           "(TTS_JOBS_PER_KEY); wait for one to finish or cancel one.",
                           code="too_many_jobs", retry_after=5)


def _dispatch_or_withdraw(job: Job) -> None:
    """Hand the job to the executor; when that is impossible (the broker is down) the job is
    withdrawn, so the client's retry with the same Idempotency-Key submits it afresh."""
    try:
        executor().run_job(job_id=str(job.id), model_id=job.model)
    except EngineError:
        Job.objects.filter(id=job.id).delete()
        delete_files(job.ref_audio.name)
        raise


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
