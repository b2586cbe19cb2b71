"""Saved voices, as clients use them: list, read, create, rename or re-transcribe, delete,
fetch the clip. Preparing a clip (decoding, transcribing) needs the models, so the executor
runs it where they are (tts.work.voices)."""

from __future__ import annotations

from django.core.files.storage import default_storage
from django.db.models import QuerySet

from tts.execution import executor
from tts.models import Voice
from tts.work.voices import check_free, delete_files, update_here, voice_get

__all__ = ["voice_clip", "voice_create", "voice_delete", "voice_get", "voice_list",
           "voice_update"]


def voice_list() -> QuerySet[Voice]:
    return Voice.objects.all()


def voice_create(*, name: str, ref_audio: bytes, consent: str, ref_text: str = "",
                 voice_id: str = "", description: str = "", filename: str = "") -> Voice:
    """Prepare the clip exactly as generate does (errors included), then persist it."""
    if voice_id:
        check_free(voice_id)  # refused before the clip travels; checked again when saved
    created = executor().create_voice(
        name=name, ref_audio=ref_audio, consent=consent, ref_text=ref_text, voice_id=voice_id,
        description=description, filename=filename)
    return voice_get(voice_id=created)


def voice_update(*, voice_id: str, name: str | None = None, description: str | None = None,
                 ref_text: str | None = None) -> Voice:
    """Change what is given; a new transcript (empty: recognise it) re-prepares the reference
    from the stored clip, where the models are."""
    if ref_text is None:  # names only: no model needed
        return update_here(voice_id=voice_id, name=name, description=description)
    updated = executor().update_voice(voice_id=voice_id, name=name, description=description,
                                      ref_text=ref_text)
    return voice_get(voice_id=updated)


def voice_delete(*, voice_id: str) -> None:
    voice = voice_get(voice_id=voice_id)
    delete_files(voice.clip.name, voice.prepared.name)  # first: frees room for the delete
    voice.delete()


def voice_clip(*, voice_id: str) -> tuple[Voice, bytes]:
    """The clip as it was uploaded."""
    voice = voice_get(voice_id=voice_id)
    with default_storage.open(voice.clip.name, "rb") as handle:
        return voice, handle.read()
