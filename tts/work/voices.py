"""Saved voices where the models are: create (validate, clip, transcribe, persist), a new
transcript, reads, and the prepared reference of a voice for generation (the use cases that
clients call are tts.services.voices).

Files go through Django's default storage (a local media folder unless STORAGES says
otherwise, e.g. S3 through django-storages), under ``voices/<owner>/<id>/`` for a key's voice
and ``voices/<id>/`` for one of no key (as every voice was before ids were per tenant): the
uploaded clip as sent and ``reference.npz``, the prepared reference, so a restart neither
decodes nor transcribes again.
"""

from __future__ import annotations

import logging
import mimetypes
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePath

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils.text import slugify

from tts.engine.errors import InvalidReferenceAudio
from tts.engine.reference import PreparedReference
from tts.engine.reference_store import dump_reference
from tts.models import Voice

from .errors import Conflict, Forbidden, InvalidInput, NotFound
from .runtime import get_engine

logger = logging.getLogger(__name__)
VOICE_FOLDER = "voices"
#: ``[main]`` in a script means the request's own voice (upstream's CLI convention).
#: ``[pause…]`` is a pause tag (tts.engine.frontend.pauses), never a voice.
RESERVED_IDS = frozenset({"main", "pause"})
ID_MAX_LENGTH = 64
CLIP_EXTENSIONS = frozenset({"wav", "mp3", "flac", "ogg", "opus", "oga", "m4a", "mp4", "aac",
                             "webm", "weba", "aiff", "caf"})


@dataclass(frozen=True)
class Tenant:
    """Who asks, for voices: the API key's prefix ("" without a key) and whether it is an
    admin key. A caller sees its own voices, shared ones and unowned ones (``owner=""``:
    made without a key); it changes its own; an admin sees and changes all. A voice the
    caller cannot see is a 404, the same as one that does not exist."""

    owner: str = ""
    admin: bool = False

    def visible(self) -> QuerySet[Voice]:
        if self.admin:
            return Voice.objects.all()
        return Voice.objects.filter(Q(owner=self.owner) | Q(shared=True) | Q(owner=""))

    def may_change(self, voice: Voice) -> bool:
        return self.admin or (voice.owner == self.owner and not voice.shared)


#: Unscoped: the work side, once the web side has checked the caller (tts.services).
ANYONE = Tenant(admin=True)
#: ``?owner=`` naming the voices that belong to no key (made without one).
NOBODY = "-"


def voice_get(*, voice_id: str, tenant: Tenant = ANYONE, owner: str | None = None) -> Voice:
    """The voice ``voice_id`` means to ``tenant`` (ids are unique per owner, so several
    owners may have one): its own first, then a shared one, then an unowned one; an admin
    then reaches another key's voice when only one key has that id. ``owner`` (a key's
    prefix, ``-`` for unowned) names the owner outright: admins act on any tenant's voice
    that way. 404 when there is none; 409 when an admin must name the owner."""
    found = tenant.visible().filter(slug=voice_id)
    if owner is not None:
        found = found.filter(owner="" if owner == NOBODY else owner)
    ranked = sorted(found, key=lambda v: (_rank(tenant, v), v.created_at, v.serial))
    if not ranked:
        raise NotFound(f"No saved voice {voice_id!r}; list them with GET /api/tts/voices/.",
                       code="voice_not_found", attr="voice")
    best = ranked[0]
    if (len(ranked) > 1 and _rank(tenant, best) == OTHERS
            and _rank(tenant, ranked[1]) == OTHERS):
        raise Conflict(f"Several keys have a voice {voice_id!r} and none is yours: name its "
                       "owner with ?owner=<key prefix> (- for none) on the voice endpoints.",
                       code="voice_ambiguous", attr="owner")
    return best


OWN, SHARED, UNOWNED, OTHERS = range(4)


def _rank(tenant: Tenant, voice: Voice) -> int:
    """Which voice of one id a tenant means: its own, a shared, an unowned, another's."""
    if voice.owner == tenant.owner:
        return OWN
    if voice.shared:
        return SHARED
    return UNOWNED if voice.owner == "" else OTHERS


def voice_by_key(*, voice_id: str, voice_keys: Mapping[str, int] | None) -> Voice:
    """The voice a request resolved when it was admitted (``voice_keys``: id -> serial, from
    the web side or the job's row), so every process uses the same one; without keys (an
    operator's call, a job from before ids were per tenant), resolved unscoped."""
    if voice_keys is None:
        return voice_get(voice_id=voice_id)
    voice = Voice.objects.filter(pk=voice_keys.get(voice_id), slug=voice_id).first()
    if voice is None:
        raise NotFound(f"No saved voice {voice_id!r}; list them with GET /api/tts/voices/.",
                       code="voice_not_found", attr="voice")
    return voice


def voice_to_change(*, voice_id: str, tenant: Tenant, owner: str | None = None) -> Voice:
    """The voice, when ``tenant`` may change it: 404 when it cannot see it, 403 when it is
    someone else's it may only use (shared, or unowned while this caller has a key)."""
    voice = voice_get(voice_id=voice_id, tenant=tenant, owner=owner)
    if not tenant.may_change(voice):
        raise Forbidden(f"The voice {voice_id!r} is shared: every key may use it, only an "
                        "admin key may change or delete it.", code="voice_read_only",
                        attr="voice")
    return voice


def voice_folder(owner: str, voice_id: str) -> str:
    """Where a voice's files go: ``voices/<owner>/<id>/`` for a key's voice, so two tenants'
    voices of one id never share files; ``voices/<id>/`` for one of no key (keys off: as
    before ids were per tenant)."""
    return f"{VOICE_FOLDER}/{owner}/{voice_id}" if owner else f"{VOICE_FOLDER}/{voice_id}"


def create_here(*, name: str, ref_audio: bytes, consent: str, ref_text: str = "",
                voice_id: str = "", description: str = "", filename: str = "",
                owner: str = "") -> Voice:
    """Prepare the clip exactly as generate does (errors included), then persist it."""
    if voice_id:
        check_free(voice_id, owner=owner)
    engine = get_engine()
    ref, _ = engine.prepare_reference(ref_audio, ref_text)
    check_reference_report(ref, attr="ref_audio")
    voice_id = voice_id or _derive_id(name, owner=owner)
    extension = clip_extension(filename)
    folder = voice_folder(owner, voice_id)
    saved: list[str] = []  # files first, then the row: a row never names a missing file
    try:
        saved.append(default_storage.save(f"{folder}/clip.{extension}",
                                          ContentFile(ref_audio)))
        prepared = dump_reference(ref)
        saved.append(default_storage.save(f"{folder}/reference.npz", ContentFile(prepared)))
        with transaction.atomic():
            voice = Voice.objects.create(
                slug=voice_id, owner=owner, name=name, description=description,
                consent=consent, stored_bytes=len(ref_audio) + len(prepared),
                clip=saved[0], prepared=saved[1],
                clip_content_type=mimetypes.guess_type(f"x.{extension}")[0]
                or "application/octet-stream",
                reference_key=uuid.uuid4().hex, **_reference_fields(ref))
    except IntegrityError:  # the same id, created at the same moment
        delete_files(*saved)
        raise _taken(voice_id) from None
    except BaseException:  # a full disk, a failed database: keep nothing of it
        delete_files(*saved)
        raise
    engine.remember_reference(voice.reference_key, ref)
    return voice


def update_here(*, voice_id: str, owner: str = "", name: str | None = None,
                description: str | None = None, ref_text: str | None = None) -> Voice:
    """Change what is given to ``owner``'s voice ``voice_id``; a new transcript (empty:
    recognise it) re-prepares the reference from the stored audio."""
    voice = voice_get(voice_id=voice_id, owner=owner or NOBODY)
    if name is not None:
        voice.name = name
    if description is not None:
        voice.description = description
    old_prepared = None
    if ref_text is not None:
        engine = get_engine()
        ref = engine.retext_reference(voice_reference(voice=voice), ref_text)
        old_prepared = voice.prepared.name
        prepared = dump_reference(ref)
        old_size = _size(old_prepared)
        voice.prepared = default_storage.save(
            f"{voice_folder(voice.owner, voice.slug)}/reference.npz", ContentFile(prepared))
        voice.stored_bytes = max(voice.stored_bytes - old_size, 0) + len(prepared)
        voice.reference_key = uuid.uuid4().hex
        for field, value in _reference_fields(ref).items():
            setattr(voice, field, value)
        engine.remember_reference(voice.reference_key, ref)
    voice.save()
    if old_prepared:
        delete_files(old_prepared)
    return voice


def voice_reference(*, voice: Voice) -> PreparedReference:
    """The voice's prepared reference: from this process's cache, else read from storage
    (never decoded or transcribed again)."""
    ref, _ = voice_reference_cached(voice=voice)
    return ref


def voice_reference_cached(*, voice: Voice) -> tuple[PreparedReference, bool]:
    def read() -> bytes:
        with default_storage.open(voice.prepared.name, "rb") as handle:
            return handle.read()

    return get_engine().stored_reference(voice.reference_key, read)


# --- helpers ---------------------------------------------------------------------------------

def check_reference_report(ref: PreparedReference, *, attr: str = "ref_audio") -> None:
    """With TTS_REFERENCE_STRICT, a clip whose report has a severe finding is refused (400,
    naming the finding and what to do); otherwise findings are only reported."""
    severe = [finding for finding in (ref.report or {}).get("findings", [])
              if finding["severity"] == "severe"]
    if settings.TTS_REFERENCE_STRICT and severe:
        first = severe[0]
        raise InvalidReferenceAudio(
            f"The reference clip was refused ({first['code']}): {first['detail']} (This "
            "server refuses clips with severe findings: TTS_REFERENCE_STRICT.)",
            code=f"reference_{first['code']}", attr=attr)


def _reference_fields(ref: PreparedReference) -> dict:
    clip = ref.clip
    return {
        "ref_text": ref.ref_text.strip(), "transcribed": ref.transcribed,
        "duration": round(ref.seconds, 3),
        "ref_clip": {"original_seconds": clip.original_seconds, "kept_start": clip.kept_start,
                     "kept_end": clip.kept_end, "clipped": clip.clipped},
        "reference_report": ref.report,
    }


def _taken(voice_id: str) -> InvalidInput:
    return InvalidInput(f"A voice with id {voice_id!r} already exists; choose another id, or "
                        "delete that voice first.", code="voice_exists", attr="id")


def check_free(voice_id: str, *, owner: str = "") -> None:
    """InvalidInput (400) when ``voice_id`` is reserved or ``owner`` has it already."""
    if voice_id in RESERVED_IDS:
        meaning = ("is a pause tag ([pause:1.5s])" if voice_id == "pause"
                   else "means the request's own voice")
        raise InvalidInput(f"{voice_id!r} is reserved: [{voice_id}] in a script {meaning}. "
                           "Choose another id.", code="reserved_id", attr="id")
    if Voice.objects.filter(owner=owner, slug=voice_id).exists():
        raise _taken(voice_id)


def _derive_id(name: str, *, owner: str = "") -> str:
    """A slug of the name (``voice`` when it has no letters), numbered when taken."""
    base = slugify(name)[: ID_MAX_LENGTH - 4].strip("-") or "voice"
    candidate, number = base, 1
    while (candidate in RESERVED_IDS
           or Voice.objects.filter(owner=owner, slug=candidate).exists()):
        number += 1
        candidate = f"{base}-{number}"
    return candidate


def _size(name: str) -> int:
    try:
        return default_storage.size(name) if name else 0
    except OSError:
        return 0


def clip_extension(filename: str) -> str:
    suffix = PurePath(filename or "").suffix.lower().lstrip(".")
    return suffix if suffix in CLIP_EXTENSIONS else "bin"


def delete_files(*names: str) -> None:
    """Delete what exists of ``names``; what cannot be deleted now is logged and left to the
    orphan sweep (tts.work.orphans), so a cleanup never hides the error it cleans up after."""
    for name in names:
        if name:
            try:
                default_storage.delete(name)
            except OSError as exc:
                logger.warning("could not delete %s (the orphan sweep will): %s", name, exc)
