"""OpenAI-compatible endpoints under /v1: the same services as /api/tts/, OpenAI's shapes.

Speech is streamed as it is generated (the engine's chunk stream): ``stream_format=audio``
as one growing file with chunked transfer, ``sse`` as delta events of that file's bytes;
a multi-voice script too, part after part.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator

from django.http import StreamingHttpResponse
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from tts.access.audit import audited, note, note_voices
from tts.access.authentication import tenant_of
from tts.access.throttles import AudioQuotaThrottle, RequestRateThrottle, WriteRateThrottle
from tts.api.schema import event_stream
from tts.api.uploads import BoundedUploadMixin
from tts.api.voice_views import OWNER_PARAMETER, owner_of
from tts.services import catalog, voices
from tts.services.generation import StreamSession, nfe_for, speech_stream
from tts.work.runtime import STARTED_AT

from . import errors
from .serializers import (
    CONTENT_TYPES,
    RESPONSE_FORMATS,
    OpenAIErrorSerializer,
    OpenAIModelListSerializer,
    OpenAIModelSerializer,
    OpenAISpeechRequestSerializer,
    OpenAIVoiceCreateSerializer,
    OpenAIVoiceDeletedSerializer,
    OpenAIVoiceListSerializer,
    OpenAIVoiceSerializer,
)

#: OpenAI's model names, served by the server's default model (TTS_DEFAULT_MODEL).
MODEL_ALIASES = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts")
#: OpenAI's tts-1 is its fast model, tts-1-hd its quality one: they pick our presets (an
#: explicit nfe_step still wins); other names get the default quality.
ALIAS_QUALITY = {"tts-1": "fast", "tts-1-hd": "best"}
OWNER = "f5-tts-server"


def openai_error(description: str, *examples: tuple[str, str, str, str | None, str]
                 ) -> OpenApiResponse:
    """An error response in OpenAI's shape, with (name, type, code, param, message)."""
    return OpenApiResponse(OpenAIErrorSerializer, description=description, examples=[
        OpenApiExample(name, value=errors.error_body(message, kind=kind, param=param,
                                                     code=code))
        for name, kind, code, param, message in examples])


BAD_REQUEST = openai_error("Invalid input; `param` names the field.", (
    "Speed out of range", "invalid_request_error", "max_value", "speed",
    "speed must be between 0.25 and 4.0 (default 1.0)."))
NOT_FOUND = openai_error("Unknown voice or model.", (
    "Unknown voice", "invalid_request_error", "voice_not_found", "voice",
    "No saved voice 'alloy'; list them with GET /api/tts/voices/."), (
    "Unknown model", "invalid_request_error", "model_not_found", "model",
    "Unknown model 'tts-2'. Available: F5-TTS, E2-TTS (see GET /api/tts/models/)."))
UNAVAILABLE = openai_error("Model unavailable or busy; see Retry-After.", (
    "Busy", "server_error", "engine_busy", None,
    "8 requests are already waiting for the model; retry shortly."))
UNAUTHORIZED = openai_error("A key of ours with a wrong secret, revoked or expired; or no key "
                            "while the server requires one (TTS_REQUIRE_API_KEY).", (
    "Key required", "authentication_error", "api_key_required", None,
    "This server requires an API key; send it as `Authorization: Bearer <key>` or "
    "`X-API-Key: <key>`."))
THROTTLED = openai_error("Over the key's (or client's) requests per minute or audio seconds "
                         "per day; see Retry-After.", (
    "Rate limited", "rate_limit_error", "rate_limited", None,
    "Rate limit of 30 generation requests per minute reached; retry in 42 s."), (
    "Quota used up", "rate_limit_error", "audio_quota_exceeded", None,
    "Quota of 600 s of generated audio per 24 h used up (603.2 s); retry in 5400 s."))
UNSUPPORTED = openai_error("A body in another media type than the one documented.", (
    "Wrong media type", "invalid_request_error", "unsupported_media_type", None,
    "Unsupported media type \"text/plain\" in request."))
SERVER_ERROR = openai_error("An unexpected failure, logged with the X-Request-ID.", (
    "Internal error", "server_error", "internal_error", None,
    "Internal server error; the X-Request-ID header identifies it in the server log."))
#: Every /v1 operation can answer these.
COMMON = {401: UNAUTHORIZED, 500: SERVER_ERROR}
TOO_LARGE = openai_error("Request body over TTS_MAX_UPLOAD_MB.", (
    "Too large", "invalid_request_error", "request_too_large", None,
    "The request body is 31.0 MB; the limit is 20 MB (TTS_MAX_UPLOAD_MB)."))


class IgnoreAccept(DefaultContentNegotiation):
    """OpenAI clients send `Accept: application/octet-stream` for audio; replies that are not
    audio (errors, listings) are JSON whatever they ask."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class OpenAIView(APIView):
    schema = AutoSchema()
    renderer_classes = [JSONRenderer]
    content_negotiation_class = IgnoreAccept

    def get_exception_handler(self):
        return errors.exception_handler


SPEECH_DESCRIPTION = """
OpenAI's text-to-speech call, spoken in a saved voice (create one with POST /v1/audio/voices
or POST /api/tts/voices/).

- `model`: ours (GET /v1/models), or `tts-1`, `tts-1-hd`, `gpt-4o-mini-tts`, which mean the
  server's default model.
- `speed`: OpenAI's 0.25-4.0; the model gets it as is within 0.3-2.0 and clamped outside.
- `instructions`: accepted and ignored (the style comes from the voice's clip).
- `stream_format`: `audio` sends the file as it is generated (chunked transfer); `sse` sends
  `data: {"type": "speech.audio.delta", "audio": "<base64>"}` events (their bytes joined are the
  file in `response_format`), then `data: {"type": "speech.audio.done", ...}`. A multi-voice
  script (`[voice-id]` tags) is streamed the same ways, part after part. `flac` comes in one
  piece once complete, so that its header states the length; a `wav` header says "until the
  end".

```python
from openai import OpenAI
client = OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="unused")
with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="narrator", input="Hello there.") as response:
    response.stream_to_file("speech.mp3")
```
"""


SPEECH_HEADERS = (("X-Model", str, "Model that speaks."),
                  ("X-Seed", int, "Seed used; send it back (extra_body) to reproduce."),
                  ("X-Speed", float, "The speed the model was given (clamped to 0.3-2.0)."))


class SpeechView(OpenAIView):
    parser_classes = [JSONParser]
    quota_text_field = "input"  # what the audio quota estimates from
    throttle_classes = [RequestRateThrottle, AudioQuotaThrottle]  # the same budget as /api/tts

    @extend_schema(
        operation_id="openai_speech", summary="Create speech (OpenAI-compatible)",
        description=SPEECH_DESCRIPTION, request=OpenAISpeechRequestSerializer,
        examples=[OpenApiExample("Speech in a saved voice", request_only=True, value={
            "model": "tts-1", "input": "The quick brown fox jumped over the lazy dog.",
            # A voice saved on this server (tts.api.schema fills it in), so that the example
            # runs as it is.
            "voice": "{example_voice}", "response_format": "mp3", "speed": 1.0})],
        responses={
            **{(200, media_type): OpenApiResponse(OpenApiTypes.BINARY, description=(
                "The audio in response_format (mp3: audio/mpeg, opus: audio/ogg, aac: "
                "audio/aac, flac: audio/flac, wav: audio/wav, pcm: audio/pcm), sent as it is "
                "generated (flac once complete). Headers: X-Model, X-Seed, X-Speed."))
               for media_type in dict.fromkeys(CONTENT_TYPES.values())},
            (200, "text/event-stream"): event_stream(
                "With stream_format=sse: speech.audio.delta events, then speech.audio.done.",
                events=["message"], data='One line of JSON: `{"type": "speech.audio.delta", '
                '"audio": "<base64>"}`, last `{"type": "speech.audio.done", ...}`.'),
            400: BAD_REQUEST, 404: NOT_FOUND, 415: UNSUPPORTED, 429: THROTTLED,
            503: UNAVAILABLE, **COMMON},
        parameters=[OpenApiParameter(name, kind, location=OpenApiParameter.HEADER,
                                     response=[200], description=text)
                    for name, kind, text in SPEECH_HEADERS],
        tags=["openai"])
    @audited("openai_speech", text_field="input")
    def post(self, request):
        serializer = OpenAISpeechRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        speed = serializer.model_speed()
        note_voices(voice=data["voice"], gen_text=data["input"])
        audio = speech_stream(  # the bytes of one file, as they are made
            model_id=resolve_model(data["model"]), voice=data["voice"], gen_text=data["input"],
            options={"speed": speed, "seed": data["seed"],
                     "nfe_step": nfe_for(ALIAS_QUALITY.get(data["model"]), data["nfe_step"]),
                     **serializer.frontend_options()},
            output_format=RESPONSE_FORMATS[data["response_format"]], label=request.request_id,
            tenant=tenant_of(request))
        if data["stream_format"] == "sse":
            response = StreamingHttpResponse(SpeechDeltas(audio), content_type="text/event-stream")
        else:
            response = StreamingHttpResponse(audio,
                                             content_type=CONTENT_TYPES[data["response_format"]])
        headers = {"X-Model": audio.model, "X-Seed": audio.seed, "X-Speed": speed,
                   "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        for name, value in headers.items():
            response[name] = str(value)
        return response


def resolve_model(name: str) -> str:
    """OpenAI's model names mean the default model ("")."""
    return "" if name in MODEL_ALIASES else name


class SpeechDeltas:
    """OpenAI's SSE for speech: each piece of the file, base64, in a ``speech.audio.delta``
    event (joined, they are the file), then ``speech.audio.done``."""

    def __init__(self, audio: StreamSession):
        self.audio = audio
        self.close = audio.close

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for piece in self.audio:
            yield _event({"type": "speech.audio.delta",
                          "audio": base64.b64encode(piece).decode("ascii")})
        yield _event({"type": "speech.audio.done", "model": self.audio.model,
                      "seed": self.audio.seed, "duration": self.audio.summary()["duration"]})


def _event(payload: dict) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()


class ModelListView(OpenAIView):
    @extend_schema(operation_id="openai_models_list", summary="List models (OpenAI-compatible)",
                   description="Our model ids, then the OpenAI names that mean the default "
                               "model (tts-1, tts-1-hd, gpt-4o-mini-tts).",
                   responses={200: OpenApiResponse(OpenAIModelListSerializer, examples=[
                       OpenApiExample("Models", value={"object": "list", "data": [
                           {"id": "F5-TTS", "object": "model", "created": 1735689600,
                            "owned_by": OWNER},
                           {"id": "tts-1", "object": "model", "created": 1735689600,
                            "owned_by": OWNER}]})]), **COMMON},
                   tags=["openai"])
    def get(self, request):
        ids = [model.id for model in catalog.model_list()] + list(MODEL_ALIASES)
        return Response(OpenAIModelListSerializer({"data": [_model(i) for i in ids]}).data)


class ModelDetailView(OpenAIView):
    @extend_schema(operation_id="openai_models_retrieve", summary="One model (OpenAI-compatible)",
                   responses={200: OpenApiResponse(OpenAIModelSerializer, examples=[
                       OpenApiExample("An alias", value={"id": "tts-1", "object": "model",
                                                         "created": 1735689600,
                                                         "owned_by": OWNER})]),
                              404: NOT_FOUND, **COMMON}, tags=["openai"])
    def get(self, request, model_id: str):
        if model_id not in MODEL_ALIASES:
            catalog.model_get(model_id=model_id)  # unknown: 404
        return Response(OpenAIModelSerializer(_model(model_id)).data)


def _model(model_id: str) -> dict:
    return {"id": model_id, "created": int(STARTED_AT), "owned_by": OWNER}


VOICE_EXAMPLE = OpenApiExample("A new voice", response_only=True, value={
    "object": "audio.voice", "id": "narrator", "name": "Narrator", "type": "audio_sample",
    "created_at": 1735689600})


class VoiceListView(BoundedUploadMixin, OpenAIView):
    parser_classes = [MultiPartParser]
    throttle_classes = [WriteRateThrottle]  # creations only: reads are not limited

    @extend_schema(operation_id="openai_voices_list", summary="List voices (Open WebUI shape)",
                   responses={200: OpenApiResponse(OpenAIVoiceListSerializer, examples=[
                       OpenApiExample("Voices", value={"voices": [
                           {"id": "narrator", "name": "Narrator"}]})]), **COMMON},
                   tags=["openai"])
    def get(self, request):
        entries = [{"id": v.slug, "name": v.name}
                   for v in voices.voice_list(tenant=tenant_of(request))]
        return Response(OpenAIVoiceListSerializer({"voices": entries}).data)

    @extend_schema(
        operation_id="openai_voices_create", summary="Create a voice (OpenAI-compatible)",
        description="OpenAI's upload: `name`, `audio_sample`, `consent` (multipart). The "
                    "sample is validated, clipped and transcribed as on /api/tts/voices/; send "
                    "`ref_text` (extra field) to skip speech recognition, `id` to choose the "
                    "voice id (otherwise derived from the name).",
        request={"multipart/form-data": OpenAIVoiceCreateSerializer},
        responses={200: OpenApiResponse(OpenAIVoiceSerializer, examples=[VOICE_EXAMPLE]),
                   400: BAD_REQUEST, 413: TOO_LARGE, 415: UNSUPPORTED, 503: UNAVAILABLE,
                   **COMMON},
        tags=["openai"])
    @audited("voice_create", text_field="")
    def post(self, request):
        serializer = OpenAIVoiceCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        sample = data["audio_sample"]
        voice = voices.voice_create(
            voice_id=data.get("id", ""), name=data["name"], ref_audio=sample.read(),
            ref_text=data.get("ref_text", ""), consent=data["consent"],
            filename=sample.name or "", tenant=tenant_of(request))
        note(voice=voice.slug)
        return Response(OpenAIVoiceSerializer({"id": voice.slug, "name": voice.name,
                                         "created_at": int(voice.created_at.timestamp()),
                                         "reference_report": voice.reference_report}).data)


class VoiceDetailView(OpenAIView):
    throttle_classes = [WriteRateThrottle]
    @extend_schema(operation_id="openai_voices_destroy", summary="Delete a voice",
                   responses={200: OpenApiResponse(OpenAIVoiceDeletedSerializer, examples=[
                       OpenApiExample("Deleted", value={"id": "narrator",
                                                        "object": "audio.voice.deleted",
                                                        "deleted": True})]),
                              404: NOT_FOUND, **COMMON}, parameters=[OWNER_PARAMETER],
                   tags=["openai"])
    @audited("voice_delete", text_field="")
    def delete(self, request, voice_id: str):
        voice = voices.voice_delete(voice_id=voice_id, tenant=tenant_of(request),
                                    owner=owner_of(request))
        note(voice=voice.slug, voice_owner=voice.owner)
        return Response(OpenAIVoiceDeletedSerializer({"id": voice_id, "deleted": True}).data)
