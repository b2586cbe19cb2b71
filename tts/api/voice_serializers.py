"""Request and response shapes of the saved-voice endpoints."""

from __future__ import annotations

from collections.abc import Mapping

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tts.access.authentication import tenant_of
from tts.services.voices import NOBODY

from .serializers import (
    ACCEPTED_AUDIO,
    MAX_REF_TEXT_CHARS,
    VOICE_ID_HELP,
    Base64AudioField,
    ClipSerializer,
    ReferenceReportSerializer,
    refuse_unknown_fields,
)

MAX_CONSENT_CHARS = 1000


class RejectUnknownFields:
    """A misspelt field is an error that names it, not silently ignored."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            refuse_unknown_fields(data, self.fields)
        return super().to_internal_value(data)


def _name_field(**kwargs) -> serializers.CharField:
    return serializers.CharField(
        max_length=100, help_text="Display name (at most 100 characters).",
        error_messages={"blank": "name is empty; give the voice a name.",
                        "required": "name is required: what to call the voice."}, **kwargs)


def _description_field() -> serializers.CharField:
    return serializers.CharField(required=False, allow_blank=True, max_length=2000,
                                 help_text="Free text: who speaks, in what style.")


def _ref_text_field(help_text: str) -> serializers.CharField:
    return serializers.CharField(
        required=False, allow_blank=True, max_length=MAX_REF_TEXT_CHARS,
        error_messages={"max_length": "ref_text is longer than {max_length} characters; it "
                                      "should be the transcript of a clip of at most 12 s."},
        help_text=help_text)


class _VoiceCreateFields(RejectUnknownFields, serializers.Serializer):
    id = serializers.SlugField(
        required=False, allow_blank=True, max_length=64,
        help_text=f"The voice's id. {VOICE_ID_HELP} `main` is reserved.",
        error_messages={"invalid": "id may hold only letters, digits, hyphens and "
                                   "underscores."})
    name = _name_field()
    description = _description_field()
    ref_text = _ref_text_field("Exact transcript of the clip. Empty means: transcribe it "
                               "(needs speech recognition on the server, TTS_ASR_MODEL).")
    consent = serializers.CharField(
        max_length=MAX_CONSENT_CHARS,
        help_text="Your statement that the speaker agreed to have their voice cloned (for "
                  "example a consent recording id or a reference to a signed form). Stored "
                  "and shown with the voice.",
        error_messages={"required": "consent is required: state that the speaker agreed to "
                                    "have their voice cloned.",
                        "blank": "consent is empty: state that the speaker agreed to have "
                                 "their voice cloned."})


class VoiceCreateMultipartSerializer(_VoiceCreateFields):
    ref_audio = serializers.FileField(
        help_text=f"The voice's reference clip: {ACCEPTED_AUDIO}; 3-12 s of one speaker "
                  "(longer clips are cut at a pause near 12 s).",
        error_messages={"required": "ref_audio is required: upload the voice's clip.",
                        "invalid": "ref_audio must be a file upload (multipart/form-data).",
                        "empty": "ref_audio is an empty file; upload a recording."})


class VoiceCreateJsonSerializer(_VoiceCreateFields):
    ref_audio = Base64AudioField(
        help_text=f"The voice's reference clip as base64 ({ACCEPTED_AUDIO}).",
        error_messages={"required": "ref_audio is required: the base64 of the voice's clip.",
                        "null": "ref_audio is required: the base64 of the voice's clip."})


class VoiceUpdateSerializer(RejectUnknownFields, serializers.Serializer):
    name = _name_field(required=False)
    description = _description_field()
    ref_text = _ref_text_field("A corrected transcript of the kept clip; the prepared "
                               "reference is rebuilt with it. Empty: transcribe it again.")
    shared = serializers.BooleanField(
        required=False, help_text="Admin keys only: true publishes the voice to every key "
                                  "(usable by all, changeable by admins only).")


class VoiceSerializer(serializers.Serializer):
    id = serializers.CharField(source="slug", help_text="The voice's id, unique among its "
                               "owner's voices (two keys may each have `narrator`).")
    name = serializers.CharField()
    description = serializers.CharField()
    ref_text = serializers.CharField(help_text="The transcript used (given or recognised).")
    transcribed = serializers.BooleanField(help_text="True when ref_text was recognised.")
    duration = serializers.FloatField(help_text="Seconds of reference audio used.")
    ref_clip = ClipSerializer(help_text="Which part of the uploaded clip is used.")
    reference_report = ReferenceReportSerializer(
        allow_null=True, help_text="The clip's report: measures and findings with advice "
                                   "(null for voices saved before reports).")
    consent = serializers.CharField()
    shared = serializers.BooleanField(
        help_text="Usable by every key, changeable by admin keys only. With API keys a voice "
                  "belongs to the key that created it: other keys never see it.")
    owner = serializers.SerializerMethodField(
        help_text="The prefix of the key that owns it (`-` for none), shown to admin keys and "
                  "to the key that owns it (null otherwise, and without keys). Name it as "
                  "`?owner=` to act on one of several voices of one id.")
    clip_url = serializers.SerializerMethodField(help_text="Download the clip as uploaded.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_owner(self, voice) -> str | None:
        request = self.context.get("request")
        tenant = tenant_of(request) if request is not None else None
        if tenant is None or not (tenant.admin or (tenant.owner and voice.owner == tenant.owner)):
            return None
        return voice.owner or NOBODY

    @extend_schema_field(OpenApiTypes.URI)
    def get_clip_url(self, voice) -> str:
        path = reverse("tts-voice-clip", kwargs={"voice_id": voice.slug})
        owner = self.get_owner(voice)
        if owner is not None:  # the one voice of that id, whatever else the caller sees
            path += f"?owner={owner}"
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path
