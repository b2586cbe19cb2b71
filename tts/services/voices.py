"""Saved voices, as clients use them: list, read, create, rename or re-transcribe, delete,
fetch the clip. Preparing a clip (decoding, transcribing) needs the models, so the executor
runs it where they are (tts.work.voices).

Every use case takes the caller's ``tenant``: a voice it cannot see is a 404, one it may use
but not change (shared) a 403 on a change. The default (``ANYONE``) is for operators' own
tools (management commands), never for a request.
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import Count, QuerySet, Sum

from tts.execution import executor
from tts.models import Voice
from tts.work.errors import Forbidden
from tts.work.scripts import MAIN, is_script, parse_script, resolve_voices
from tts.work.voices import (
    ANYONE,
    NOBODY,
    Tenant,
    check_free,
    delete_files,
    update_here,
    voice_get,
    voice_to_change,
)

__all__ = ["ANYONE", "NOBODY", "Tenant", "voice_clip", "voice_create", "voice_delete", "voice_get",
           "voice_list", "voice_share", "voice_update", "voice_usage", "voices_named",
           "check_request_voices"]


def voice_list(*, tenant: Tenant = ANYONE, owner: str | None = None) -> QuerySet[Voice]:
    """The voices ``tenant`` sees (``owner``: only that key's, ``-`` for unowned ones)."""
    visible = tenant.visible()
    return visible if owner is None else visible.filter(owner="" if owner == NOBODY else owner)


def voice_create(*, name: str, ref_audio: bytes, consent: str, ref_text: str = "",
                 voice_id: str = "", description: str = "", filename: str = "",
                 tenant: Tenant = ANYONE) -> Voice:
    """Prepare the clip exactly as generate does (errors included), then persist it, owned
    by the tenant's key."""
    if voice_id:
        check_free(voice_id, owner=tenant.owner)  # refused now; checked again when saved
    check_caps(tenant, incoming_bytes=len(ref_audio))
    created = executor().create_voice(
        name=name, ref_audio=ref_audio, consent=consent, ref_text=ref_text, voice_id=voice_id,
        description=description, filename=filename, owner=tenant.owner)
    voice = voice_get(voice_id=created, owner=tenant.owner or NOBODY)
    _keep_within_caps(tenant, voice)
    return voice


def _keep_within_caps(tenant: Tenant, voice: Voice) -> None:
    """The caps hold under concurrency: the check before preparing is only a quick refusal
    (preparing takes seconds, no lock is held that long), so once the voice is saved the
    tenant's totals are checked again, one creation at a time per tenant (PostgreSQL: an
    advisory lock on the owner; SQLite: the IMMEDIATE transaction), and a voice that took the
    tenant past a cap is removed again and refused. Each check sees every voice committed
    before it, so parallel creations keep at most what the caps allow."""
    if tenant.admin or not (settings.TTS_VOICES_PER_KEY or settings.TTS_VOICE_STORAGE_MB_PER_KEY):
        return
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))",
                               [f"voices:{tenant.owner}"])
        usage = voice_usage(tenant)
        over = ((usage["count_limit"] is not None and usage["count"] > usage["count_limit"])
                or (usage["bytes_limit"] is not None and usage["bytes"] > usage["bytes_limit"]))
        if over:
            Voice.objects.filter(pk=voice.pk).delete()
    if over:
        delete_files(voice.clip.name, voice.prepared.name)
        check_caps(tenant, incoming_bytes=voice.stored_bytes)  # raises: says which cap
        raise Forbidden("This voice would pass this key's voice caps (TTS_VOICES_PER_KEY, "
                        "TTS_VOICE_STORAGE_MB_PER_KEY).", code="voice_limit_reached",
                        attr="id")


def voice_usage(tenant: Tenant) -> dict:
    """The tenant's own voices: how many and how many bytes, against the caps."""
    totals = Voice.objects.filter(owner=tenant.owner).aggregate(
        count=Count("serial"), stored=Sum("stored_bytes"))
    limit_mb = settings.TTS_VOICE_STORAGE_MB_PER_KEY
    return {"count": totals["count"] or 0,
            "count_limit": None if tenant.admin else settings.TTS_VOICES_PER_KEY or None,
            "bytes": totals["stored"] or 0,
            "bytes_limit": None if tenant.admin or not limit_mb else int(limit_mb * 2**20)}


def check_caps(tenant: Tenant, *, incoming_bytes: int) -> None:
    """403 when one more voice (of about ``incoming_bytes``: the clip, before preparing)
    would pass the tenant's count or storage cap. Admin keys are exempt."""
    usage = voice_usage(tenant)
    if usage["count_limit"] is not None and usage["count"] >= usage["count_limit"]:
        raise Forbidden(f"This key keeps {usage['count']} voices, its limit "
                        f"(TTS_VOICES_PER_KEY); delete one first.",
                        code="voice_limit_reached", attr="id")
    if (usage["bytes_limit"] is not None
            and usage["bytes"] + incoming_bytes > usage["bytes_limit"]):
        left = max(usage["bytes_limit"] - usage["bytes"], 0)
        raise Forbidden(f"This voice ({incoming_bytes / 2**20:.2f} MB) would pass this key's "
                        f"voice storage of {usage['bytes_limit'] / 2**20:g} MB "
                        f"(TTS_VOICE_STORAGE_MB_PER_KEY; {left / 2**20:.2f} MB left); delete "
                        "voices or send a shorter clip.", code="voice_storage_limit_reached",
                        attr="ref_audio")


def voice_update(*, voice_id: str, name: str | None = None, description: str | None = None,
                 ref_text: str | None = None, tenant: Tenant = ANYONE,
                 owner: str | None = None) -> Voice:
    """Change what is given; a new transcript (empty: recognise it) re-prepares the reference
    from the stored clip, where the models are. ``owner``: see voice_get."""
    voice = voice_to_change(voice_id=voice_id, tenant=tenant, owner=owner)
    if ref_text is None:  # names only: no model needed
        return update_here(voice_id=voice.slug, owner=voice.owner, name=name,
                           description=description)
    updated = executor().update_voice(voice_id=voice.slug, owner=voice.owner, name=name,
                                      description=description, ref_text=ref_text)
    return voice_get(voice_id=updated, owner=voice.owner or NOBODY)


def voice_share(*, voice_id: str, shared: bool, tenant: Tenant = ANYONE,
                owner: str | None = None) -> Voice:
    """Publish a voice to every key (or take it back). Admins only."""
    voice = voice_get(voice_id=voice_id, tenant=tenant, owner=owner)
    if not tenant.admin:
        raise Forbidden("Only an admin key publishes shared voices (manage.py apikeys "
                        "create --admin, or manage.py voices share).", code="admin_only",
                        attr="shared")
    voice.shared = shared
    voice.save(update_fields=["shared", "updated_at"])
    return voice


def voice_delete(*, voice_id: str, tenant: Tenant = ANYONE, owner: str | None = None) -> Voice:
    """Delete the voice and its files; returns what it was (owner and id, for the log)."""
    voice = voice_to_change(voice_id=voice_id, tenant=tenant, owner=owner)
    delete_files(voice.clip.name, voice.prepared.name)  # first: frees room for the delete
    serial = voice.pk
    voice.delete()
    voice.pk = serial
    return voice


def voice_clip(*, voice_id: str, tenant: Tenant = ANYONE,
               owner: str | None = None) -> tuple[Voice, bytes]:
    """The clip as it was uploaded (its owner's, or an admin's, to download: a shared
    voice is used by others, its recording is not handed out)."""
    voice = voice_to_change(voice_id=voice_id, tenant=tenant, owner=owner)
    with default_storage.open(voice.clip.name, "rb") as handle:
        return voice, handle.read()


def check_request_voices(*, voice: str = "", gen_text: str = "",
                         tenant: Tenant = ANYONE) -> dict[str, int]:
    """Before a generation or a job leaves the web side: its ``voice`` and its script's tags
    must name voices the tenant may use. Another tenant's voice is answered exactly as one
    that does not exist (a 404 for ``voice``, ``unknown_voice`` for tags), so ids cannot be
    probed. Returns the voices resolved for the tenant (id -> serial): the request carries
    them, so the process that runs it uses the same ones (tts.work.voices.voice_by_key)."""
    return resolve_voices(voice=voice, gen_text=gen_text, tenant=tenant)


def voices_named(*, voice: str = "", gen_text: str = "") -> list[str]:
    """The saved voices a request names, for the audit log: its ``voice``, then its tags."""
    named = [voice] if voice else []
    if is_script(gen_text):
        named += sorted({segment.voice for segment in parse_script(gen_text)} - {MAIN} - {voice})
    return named
