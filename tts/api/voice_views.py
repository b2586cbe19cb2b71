"""Saved voices: /api/tts/voices/. Validate, call one service, shape the reply."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import generics, status
from rest_framework.exceptions import ErrorDetail, NotFound, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from tts.access.audit import audited, note
from tts.access.authentication import tenant_of
from tts.access.throttles import WriteRateThrottle
from tts.services import voices

from . import schema
from .renderers import AudioRenderer
from .uploads import BoundedUploadMixin
from .voice_serializers import (
    VoiceCreateJsonSerializer,
    VoiceCreateMultipartSerializer,
    VoiceSerializer,
    VoiceUpdateSerializer,
)

VOICE_EXAMPLE = OpenApiExample("A saved voice", response_only=True, value={
    "id": "narrator", "name": "Narrator", "description": "Calm, low voice for audiobooks.",
    "ref_text": "Some call me nature, others call me mother nature.", "transcribed": False,
    "duration": 4.12,
    "ref_clip": {"original_seconds": 4.2, "kept_start": 0.05, "kept_end": 4.12,
                 "clipped": False},
    "consent": "Signed consent form #2025-118 on file.",
    "clip_url": "http://127.0.0.1:8000/api/tts/voices/narrator/clip/",
    "created_at": "2025-06-01T12:00:00Z", "updated_at": "2025-06-01T12:00:00Z",
})
CREATE_JSON_EXAMPLE = OpenApiExample("JSON with base64 clip", request_only=True,
                                     media_type="application/json", value={
    "id": "narrator", "name": "Narrator", "ref_audio": "<base64 of a 3-12 s clip>",
    "ref_text": "Some call me nature, others call me mother nature.",
    "consent": "Signed consent form #2025-118 on file.",
})
INVALID_PAGE = schema.error("Invalid query: `attr` names the parameter.", (
    "No such page", "validation_error", "invalid_page",
    "No such page: send a page number from 1 to the last page (see `count`).", "page"))
UPDATE_INVALID = schema.error("Invalid input: the field is named in `attr`.", (
    "Unknown field", "validation_error", "unknown_field",
    "Unknown field 'nmae'; the fields are: name, description, ref_text.", "nmae"), (
    "Name too long", "validation_error", "max_length",
    "Ensure this field has no more than 100 characters.", "name"))
NOT_FOUND = schema.error("No such voice.", (
    "Unknown voice", "client_error", "voice_not_found",
    "No saved voice 'narator'; list them with GET /api/tts/voices/.", None))
CREATE_ERRORS = {
    400: schema.error("Invalid input: the field is named in `attr`.",
                      ("Taken id", "validation_error", "voice_exists",
                       "A voice with id 'narrator' already exists; choose another id, or "
                       "delete that voice first.", "id"),
                      ("No consent", "validation_error", "required",
                       "consent is required: state that the speaker agreed to have their "
                       "voice cloned.", "consent")),
    413: schema.GENERATE_ERRORS[413],
    503: schema.GENERATE_ERRORS[503],
}


OWNER_PARAMETER = OpenApiParameter(
    "owner", str, required=False,
    description="The key that owns the voice (its prefix; `-` for no key). Voice ids are "
                "unique per key: without it a key's own voice comes first, then a shared one, "
                "then one made without a key; an admin key names the owner to act on another "
                "key's voice of an id (409 `voice_ambiguous` when several keys have it).")


def owner_of(request) -> str | None:
    """The ``?owner=`` query parameter (None: not given)."""
    return request.query_params.get("owner") or None


class VoicePagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_schema_operation_parameters(self, view) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"]["minimum"] = 1
                parameter["description"] = "Page number, from 1 (a page past the last: 400)."
            elif parameter["name"] == self.page_size_query_param:
                parameter["description"] = (f"Voices per page, default {self.page_size}; more "
                                            f"than {self.max_page_size} count as "
                                            f"{self.max_page_size}.")
        return parameters

    def paginate_queryset(self, queryset, request, view=None):
        # DRF answers an invalid page number with a 404; it is a bad query parameter (found by
        # the schemathesis run: ?page=0 got an undocumented 404).
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound:
            raise ValidationError({"page": [ErrorDetail(
                "No such page: send a page number from 1 to the last page (see `count`).",
                code="invalid_page")]}) from None


class VoiceListView(BoundedUploadMixin, generics.ListAPIView):
    parser_classes = [MultiPartParser, JSONParser]
    throttle_classes = [WriteRateThrottle]  # creations only: reads are not limited
    serializer_class = VoiceSerializer
    pagination_class = VoicePagination

    def get_queryset(self):
        return voices.voice_list(tenant=tenant_of(self.request), owner=owner_of(self.request))

    @extend_schema(operation_id="tts_voices_list", summary="List saved voices",
                   description="Oldest first, 50 a page (`page`, `page_size` up to 200).",
                   examples=[OpenApiExample("A page of voices", response_only=True,
                                            value=VOICE_EXAMPLE.value)],
                   responses={200: VoiceSerializer(many=True), 400: INVALID_PAGE},
                   parameters=[OWNER_PARAMETER], tags=["voices"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="tts_voices_create", summary="Save a voice",
        description=(
            "Upload a reference clip once and use it by id: `voice` on POST "
            "/api/tts/generate/, `[voice-id]` tags in scripts, `voice` on /v1/audio/speech. "
            "The clip is validated, clipped and (without `ref_text`) transcribed as on "
            "generate; the prepared reference is stored with it, so later requests and "
            "restarts neither decode nor transcribe it again. `consent` is required.\n\n"
            "```bash\ncurl -X POST http://127.0.0.1:8000/api/tts/voices/ -F name=Narrator \\\n"
            "  -F ref_audio=@voice.wav -F \"ref_text=What the clip says.\" \\\n"
            "  -F \"consent=The speaker agreed in writing.\"\n```"),
        request={"multipart/form-data": VoiceCreateMultipartSerializer,
                 "application/json": VoiceCreateJsonSerializer},
        responses={201: OpenApiResponse(VoiceSerializer, examples=[VOICE_EXAMPLE]),
                   **CREATE_ERRORS},
        examples=[CREATE_JSON_EXAMPLE], tags=["voices"])
    @audited("voice_create", text_field="")
    def post(self, request):
        serializer_class = (VoiceCreateJsonSerializer
                            if request.content_type.startswith("application/json")
                            else VoiceCreateMultipartSerializer)
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        upload = data["ref_audio"]
        audio, filename = ((upload, "") if isinstance(upload, bytes)
                           else (upload.read(), upload.name or ""))
        voice = voices.voice_create(
            voice_id=data.get("id", ""), name=data["name"],
            description=data.get("description", ""), ref_audio=audio,
            ref_text=data.get("ref_text", ""), consent=data["consent"], filename=filename,
            tenant=tenant_of(request))
        note(voice=voice.slug)
        body = VoiceSerializer(voice, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED,
                        headers={"Location": request.build_absolute_uri(f"{voice.slug}/")})


class VoiceDetailView(APIView):
    throttle_classes = [WriteRateThrottle]  # updates and deletions
    @extend_schema(operation_id="tts_voices_retrieve", summary="One saved voice",
                   responses={200: OpenApiResponse(VoiceSerializer, examples=[VOICE_EXAMPLE]),
                              404: NOT_FOUND}, parameters=[OWNER_PARAMETER], tags=["voices"])
    def get(self, request, voice_id: str):
        voice = voices.voice_get(voice_id=voice_id, tenant=tenant_of(request),
                                 owner=owner_of(request))
        return Response(VoiceSerializer(voice, context={"request": request}).data)

    @extend_schema(
        operation_id="tts_voices_update", summary="Rename, describe or re-transcribe a voice",
        description="Send any of `name`, `description`, `ref_text`. A new `ref_text` rebuilds "
                    "the prepared reference with it; an empty one is recognised again (needs "
                    "TTS_ASR_MODEL). The clip and consent do not change.",
        request=VoiceUpdateSerializer,
        examples=[OpenApiExample("Correct the transcript", request_only=True, value={
            "ref_text": "Some call me nature, others call me mother nature."})],
        responses={200: OpenApiResponse(VoiceSerializer, examples=[VOICE_EXAMPLE]),
                   400: UPDATE_INVALID, 404: NOT_FOUND, 503: schema.GENERATE_ERRORS[503]},
        parameters=[OWNER_PARAMETER], tags=["voices"])
    @audited("voice_update", text_field="")
    def patch(self, request, voice_id: str):
        serializer = VoiceUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        tenant, owner = tenant_of(request), owner_of(request)
        shared = fields.pop("shared", None)
        if shared is not None:
            voice = voices.voice_share(voice_id=voice_id, shared=shared, tenant=tenant,
                                       owner=owner)
            owner = voice.owner or voices.NOBODY  # the same voice for the rest
        voice = (voices.voice_update(voice_id=voice_id, tenant=tenant, owner=owner, **fields)
                 if fields or shared is None else voices.voice_get(voice_id=voice_id,
                                                                   tenant=tenant, owner=owner))
        note(voice=voice.slug, voice_owner=voice.owner)
        return Response(VoiceSerializer(voice, context={"request": request}).data)

    @extend_schema(operation_id="tts_voices_destroy", summary="Delete a voice and its files",
                   responses={204: None, 404: NOT_FOUND}, parameters=[OWNER_PARAMETER],
                   tags=["voices"])
    @audited("voice_delete", text_field="")
    def delete(self, request, voice_id: str):
        voice = voices.voice_delete(voice_id=voice_id, tenant=tenant_of(request),
                                    owner=owner_of(request))
        note(voice=voice.slug, voice_owner=voice.owner)
        return Response(status=status.HTTP_204_NO_CONTENT)


class VoiceClipView(APIView):
    # Accept: audio/* or audio/wav (what players and the docs page send) gets the clip;
    # errors are JSON whatever was asked for.
    renderer_classes = [AudioRenderer, JSONRenderer]

    def handle_exception(self, exc):
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)

    @extend_schema(operation_id="tts_voices_clip", summary="Download a voice's clip",
                   description="The clip exactly as uploaded (its `ref_clip` says which part "
                               "is used).",
                   responses={(200, "audio/*"): OpenApiResponse(OpenApiTypes.BINARY),
                              404: NOT_FOUND}, parameters=[OWNER_PARAMETER], tags=["voices"])
    def get(self, request, voice_id: str):
        voice, data = voices.voice_clip(voice_id=voice_id, tenant=tenant_of(request),
                                        owner=owner_of(request))
        response = HttpResponse(data, content_type=voice.clip_content_type)
        extension = voice.clip.name.rsplit(".", 1)[-1]
        response["Content-Disposition"] = f'attachment; filename="{voice.slug}.{extension}"'
        return response
