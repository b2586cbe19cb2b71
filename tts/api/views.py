"""HTTP in, HTTP out: validate with a serializer, call one service, shape the reply."""

from __future__ import annotations

from urllib.parse import quote

from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import ErrorDetail, NotAcceptable, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from tts.access.audit import audited, note_voices
from tts.access.authentication import is_admin_caller, tenant_of
from tts.access.throttles import AudioQuotaThrottle, RequestRateThrottle
from tts.services import catalog, health
from tts.services.generation import SpeechResult, StreamSession, speech_generate, speech_stream

from . import schema
from .exceptions import ServiceUnavailable
from .parsers import JSONParser, MultiPartParser
from .renderers import (
    FORMAT_BY_MEDIA_TYPE,
    AudioRenderer,
    EventStreamRenderer,
    server_sent_event,
)
from .serializers import (
    GenerateJsonSerializer,
    GenerateMultipartSerializer,
    GenerateOutputSerializer,
    HealthSerializer,
    ModelSerializer,
    ReadinessSerializer,
)
from .uploads import BoundedUploadMixin

RESPONSE_CHOICES = ("json", "audio")


class GenerateView(BoundedUploadMixin, APIView):
    parser_classes = [MultiPartParser, JSONParser]
    renderer_classes = [JSONRenderer, AudioRenderer, EventStreamRenderer]
    throttle_classes = [RequestRateThrottle, AudioQuotaThrottle]

    def initial(self, request, *args, **kwargs):
        response = request.query_params.getlist("response")
        if response and (len(response) > 1 or response[0] not in RESPONSE_CHOICES):
            raise ValidationError({"response": [ErrorDetail(
                f"?response= must be one of {', '.join(RESPONSE_CHOICES)}, given once.",
                code="invalid_choice")]})
        super().initial(request, *args, **kwargs)

    def handle_exception(self, exc):
        # Errors are JSON even when the client asked for audio.
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)

    @extend_schema(
        operation_id="generateSpeech",
        summary="Generate speech in a cloned voice",
        description=schema.GENERATE_DESCRIPTION,
        request={"multipart/form-data": GenerateMultipartSerializer,
                 "application/json": GenerateJsonSerializer},
        parameters=[OpenApiParameter(
            "response", str, enum=list(RESPONSE_CHOICES), required=False,
            description="`audio` returns the encoded bytes instead of JSON (like "
                        "`Accept: audio/*`).")],
        responses={
            (200, "application/json"): OpenApiResponse(GenerateOutputSerializer,
                                                       examples=[schema.GENERATE_RESPONSE_EXAMPLE]),
            (200, "audio/*"): OpenApiResponse(OpenApiTypes.BINARY, description=(
                "Raw audio, as an attachment named speech.<format>. Headers: X-Model, X-Seed, "
                "X-Sample-Rate, X-Duration, X-Chunks, X-Ref-Text (percent-encoded), "
                "X-Inference-Seconds, X-Real-Time-Factor. With stream=true: chunked, with "
                "X-Model, X-Seed, X-Sample-Rate and X-Chunks only.")),
            (200, "text/event-stream"): schema.event_stream(
                "Server-Sent Events (`Accept: text/event-stream`): a `chunk` event per piece "
                "of text as it is generated, then `done` with the metadata, or `error` in the "
                "error shape.", events=["chunk", "done", "error"],
                data="One line of JSON: a chunk (base64 16-bit PCM and its place), the "
                     "metadata of the reply, or an error.",
                examples=[schema.GENERATE_EVENTS_EXAMPLE]),
            **schema.GENERATE_ERRORS,
        },
        examples=[schema.GENERATE_JSON_EXAMPLE],
        tags=["speech"],
    )
    @audited("generate")
    def post(self, request):
        serializer_class = (GenerateJsonSerializer
                            if request.content_type.startswith("application/json")
                            else GenerateMultipartSerializer)
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        events = isinstance(request.accepted_renderer, EventStreamRenderer)
        wants_audio = (isinstance(request.accepted_renderer, AudioRenderer)
                       or request.query_params.get("response") == "audio")
        output_format = negotiated_format(request, data["output_format"])
        request_args = {
            "model_id": data["model"], "ref_audio": data.get("ref_audio"),
            "ref_text": data["ref_text"], "voice": data["voice"], "gen_text": data["gen_text"],
            "options": serializer.generation_options(), "label": request.request_id,
            "tenant": tenant_of(request),
        }
        note_voices(voice=data["voice"], gen_text=data["gen_text"])
        if data["stream"] or events:
            if events and output_format not in ("", "pcm"):
                raise ValidationError({"output_format": [ErrorDetail(
                    "Server-Sent Events carry raw 16-bit PCM; omit output_format or send pcm.",
                    code="invalid_choice")]})
            return streaming_response(speech_stream(
                **request_args, output_format=output_format or "wav", events=events))
        result = speech_generate(
            **request_args, output_format=output_format or "wav",
            include_spectrogram=data["include_spectrogram"] and not wants_audio)
        if wants_audio:
            return audio_response(result)
        return Response(GenerateOutputSerializer(result).data)


def negotiated_format(request, requested: str) -> str:
    """``output_format``, else the concrete type of an ``Accept: audio/...`` header, else ""
    (the caller's default). An audio type we cannot produce, or one that contradicts
    output_format, is 406."""
    accepted = request.accepted_media_type
    if not isinstance(request.accepted_renderer, AudioRenderer) or accepted == "audio/*":
        return requested
    implied = FORMAT_BY_MEDIA_TYPE.get(accepted)
    if implied is None or (requested and requested != implied):
        raise NotAcceptable(
            f"Accept: {accepted} cannot be served"
            + (f" with output_format={requested}" if requested else "")
            + "; accept audio/wav, audio/mpeg, audio/flac, audio/ogg, audio/aac, "
            "audio/pcm or audio/*.")
    return implied


def streaming_response(session: StreamSession) -> StreamingHttpResponse:
    """Pieces go out as they are made; proxies are asked not to buffer them."""
    if session.events:
        async def body():
            async for event in session:
                yield server_sent_event(event.name, event.data)
        content = _Closing(body(), session.close)
    else:
        content = session
    response = StreamingHttpResponse(content, content_type=session.content_type)
    headers = {"X-Model": session.model, "X-Seed": session.seed,
               "X-Sample-Rate": session.sample_rate, "X-Chunks": session.total_chunks,
               "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    if not session.events:
        headers["Content-Disposition"] = f'inline; filename="speech.{session.format}"'
    for name, value in headers.items():
        response[name] = str(value)
    return response


class _Closing:
    """An async iterable that Django closes with the response (it calls ``close``)."""

    def __init__(self, iterable, close):
        self._iterable = iterable
        self.close = close

    def __aiter__(self):
        return self._iterable.__aiter__()


def audio_response(result: SpeechResult) -> HttpResponse:
    response = HttpResponse(result.audio, content_type=result.content_type)
    # An attachment with a name: browsers (and the docs page) offer it as a download.
    response["Content-Disposition"] = f'attachment; filename="speech.{result.format}"'
    headers = {
        "X-Model": result.model, "X-Seed": result.seed, "X-Sample-Rate": result.sample_rate,
        "X-Duration": result.duration, "X-Chunks": result.chunks,
        "X-Ref-Text": quote(result.ref_text, safe=" .,;:!?'"),
        "X-Inference-Seconds": result.timing["inference_seconds"],
        "X-Real-Time-Factor": result.timing["real_time_factor"],
        "X-Total-Seconds": result.timing["total_seconds"],
    }
    if result.similarity is not None and result.similarity.get("similarity") is not None:
        headers["X-Voice-Similarity"] = result.similarity["similarity"]
    for name, value in headers.items():
        response[name] = str(value)
    return response


class ModelListView(APIView):
    @extend_schema(operation_id="listModels", summary="List models",
                   description="Every configured model with its status: `loaded` (warm), "
                               "`available` (loads on first use) or `unavailable` (with the "
                               "reason and the variable to set), and the device and precision "
                               "it runs in. Never loads or downloads.",
                   responses=ModelSerializer(many=True), tags=["models"])
    def get(self, request):
        return Response(ModelSerializer(catalog.model_list(), many=True).data)


class ModelDetailView(APIView):
    @extend_schema(operation_id="getModel", summary="One model",
                   responses={200: ModelSerializer, 404: schema.GENERATE_ERRORS[404]},
                   tags=["models"])
    def get(self, request, model_id: str):
        return Response(ModelSerializer(catalog.model_get(model_id=model_id)).data)


class HealthView(APIView):
    authentication_classes: list = []  # open to probes whatever TTS_REQUIRE_API_KEY says
    permission_classes = [AllowAny]

    @extend_schema(operation_id="getHealth", summary="Liveness and server facts",
                   description="Cheap: never loads a model. Version; the device the models "
                               "run on with its name, memory and precision; the PyTorch build "
                               "(CUDA version, whether a GPU is usable); `warnings` an operator "
                               "must act on (e.g. a CUDA build with no usable GPU); execution "
                               "mode, loaded models, queue depth, uptime. Without an admin key "
                               "(or an admin session) file paths, URLs and worker host names "
                               "are left out.",
                   responses={200: HealthSerializer,
                              503: schema.error("Cannot take work.", (
                                  "Broken configuration", "server_error",
                                  "configuration_error",
                                  "The model configuration does not load: ...", None))},
                   tags=["operations"])
    def get(self, request):
        full = is_admin_caller(request)
        return Response(HealthSerializer(health.health_status(full=full)).data)


class ReadinessView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(operation_id="getReadiness", summary="Readiness",
                   description="200 once the default model is loaded and warm; 503 (with the "
                               "reason) before that, or when its weights are unavailable. The "
                               "reason names no file path or host unless an admin key asks.",
                   responses={200: ReadinessSerializer,
                              503: schema.error("Not ready.", (
                                  "Loading", "server_error", "not_ready",
                                  "tiny-f5 is not loaded yet; it loads on first use or at "
                                  "start with TTS_PRELOAD.", None))},
                   tags=["operations"])
    def get(self, request):
        state = health.readiness(full=is_admin_caller(request))
        if not state.ready:
            raise ServiceUnavailable(state.reason, code="not_ready", wait=10)
        return Response(ReadinessSerializer({"status": "ready",
                                             "default_model": state.default_model}).data)
