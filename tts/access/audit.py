"""The audit log: one row per audited request (generation, saved voice), written when the view
returns or fails. Views opt in with ``@audited("generate")``; services fill in what they know
through the ``speech_generated`` event (tts/access/receivers.py) or ``note()``."""

from __future__ import annotations

import contextvars
import functools
import hashlib
import ipaddress
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from rest_framework.throttling import BaseThrottle

from tts.services.voices import voices_named

from .authentication import request_key
from .models import ApiKey, AuditEntry
from .throttles import release

logger = logging.getLogger(__name__)


@dataclass
class AuditRecord:
    action: str
    model: str = ""
    voice: str = ""
    #: The owner of the one saved voice changed (ids are unique per key): written as
    #: ``owner/id`` when that is not the acting key (an admin's change to another's voice).
    voice_owner: str | None = None
    ref_sha256: str = ""
    text: str | None = None
    audio_seconds: float = 0.0
    #: The row, once written (a stream completes it later, from its worker thread).
    entry_id: int | None = None
    #: A stream's quota reservation, settled when the stream ends (tts.access.throttles).
    reservation_id: int | None = None


_current: contextvars.ContextVar[AuditRecord | None] = contextvars.ContextVar(
    "audit_record", default=None)


def note(*, reference: bytes | None = None, **fields) -> None:
    """Add facts to the audit record of the request being served (no-op outside one)."""
    record = _current.get()
    if record is None:
        return
    if reference and not record.ref_sha256:
        record.ref_sha256 = hashlib.sha256(reference).hexdigest()
    for name, value in fields.items():
        setattr(record, name, value)


def note_voices(*, voice: str = "", gen_text: str = "") -> None:
    """Record which saved voices a request used (its ``voice`` and its script's tags)."""
    named = voices_named(voice=voice, gen_text=gen_text)
    if named:
        note(voice=",".join(named)[:100])


def update_written(**fields) -> None:
    """Complete the already written row of the current record (the worker thread of a stream
    runs in a copy of the request's context, so it sees the same record)."""
    record = _current.get()
    if record is None or record.entry_id is None:
        return
    try:
        AuditEntry.objects.filter(pk=record.entry_id).update(**fields)
    except Exception:  # the audio went out; a missing log line is logged, not raised
        logger.exception("could not complete the audit entry %s", record.entry_id)
    finally:
        release(record.reservation_id)  # the row now counts the real seconds
        record.reservation_id = None
        connection.close()  # this thread is not a request: nobody else closes it


def release_stream() -> None:
    """A stream that ended without its summary (abandoned): what it held is released."""
    record = _current.get()
    if record is not None and record.reservation_id:
        release(record.reservation_id)
        record.reservation_id = None
        connection.close()


def client_ip(request) -> str | None:
    """The client address as the throttles see it (X-Forwarded-For with TTS_NUM_PROXIES)."""
    ident = BaseThrottle().get_ident(request)
    try:
        return str(ipaddress.ip_address(ident.strip()))
    except (ValueError, AttributeError):
        return None


def _error_code(response) -> str:
    """The first error code of an error reply, in the native shape (``errors``) or OpenAI's
    (``error``)."""
    data = getattr(response, "data", None)
    if isinstance(data, Mapping):
        errors = data.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
            return str(errors[0].get("code") or "")
        error = data.get("error")
        if isinstance(error, Mapping) and error.get("code"):
            return str(error["code"])
    return f"http_{response.status_code}"


def _request_text(request, field: str) -> str:
    try:
        data = request.data
    except Exception:  # noqa: BLE001 - an unparsable body has no text to measure
        return ""
    value = data.get(field) if isinstance(data, Mapping) else None
    return value if isinstance(value, str) else ""


def write(request, record: AuditRecord, *, status: int, outcome: str, text_field: str) -> None:
    key = request_key(request)
    text = record.text if record.text is not None else _request_text(request, text_field)
    voice = record.voice
    if record.voice_owner is not None and record.voice_owner != (key.prefix if key else ""):
        voice = f"{record.voice_owner or '-'}/{voice}"
    try:
        record.entry_id = AuditEntry.objects.create(
            action=record.action, api_key=key, key_prefix=key.prefix if key else "",
            client_ip=client_ip(request), request_id=getattr(request, "request_id", ""),
            model=record.model[:100], voice=voice[:100], ref_sha256=record.ref_sha256,
            text_chars=len(text), text=text if settings.TTS_AUDIT_STORE_TEXT else "",
            audio_seconds=record.audio_seconds, status=status, outcome=outcome[:64]).pk
    except Exception:  # the reply matters more than its log line; the failure is logged
        logger.exception("could not write the audit entry for %s", record.action)


def record_job(job) -> None:
    """One row for a finished job (tts.models.Job): its owner's key, model, voice, text
    length and the audio it made, so jobs count against quotas like generate."""
    key = ApiKey.objects.filter(prefix=job.owner).first() if job.owner else None
    try:
        with transaction.atomic():  # a savepoint: the job's end (the outer transaction) stands
            AuditEntry.objects.create(
                action="job", api_key=key, key_prefix=job.owner[:8],
                request_id=f"job {job.id}", model=job.model[:100], voice=job.voice[:100],
                text_chars=len(job.gen_text),
                text=job.gen_text if settings.TTS_AUDIT_STORE_TEXT else "",
                audio_seconds=job.audio_seconds, status=200, outcome=job.status)
    except Exception:
        logger.exception("could not write the audit entry of job %s", job.id)


def audited(action: str, *, text_field: str = "gen_text"):
    """Decorates a view method so that each call leaves one AuditEntry."""

    def decorate(method):
        @functools.wraps(method)
        def wrapper(view, request, *args, **kwargs):
            record = AuditRecord(action, voice=str(kwargs.get("voice_id", "")))
            token = _current.set(record)
            status, outcome = 500, "server_error"  # unless a reply says otherwise
            response = None
            try:
                try:
                    response = method(view, request, *args, **kwargs)
                except Exception as exc:
                    # The reply the client gets (an unexpected error is raised again: a 500).
                    response = view.handle_exception(exc)
                status = response.status_code
                outcome = "ok" if status < 400 else _error_code(response)
                return response
            finally:
                write(request, record, status=status, outcome=outcome, text_field=text_field)
                reservation = getattr(request, "_audio_reservation", None)
                if reservation and status < 400 and getattr(response, "streaming", False):
                    record.reservation_id = reservation  # settled when the stream ends
                else:
                    release(reservation)  # the row has the real seconds, or none were made
                _current.reset(token)

        return wrapper

    return decorate
