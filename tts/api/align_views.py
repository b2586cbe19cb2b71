"""POST /api/tts/align/: audio made anywhere and its text in, every word timed out."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from tts.access.throttles import RequestRateThrottle
from tts.services.generation import CAPTION_FORMATS, speech_align

from . import schema
from .parsers import JSONParser, MultiPartParser
from .serializers import Base64AudioField, TextField, WordSerializer, refuse_unknown_fields
from .uploads import BoundedUploadMixin

#: Longer texts belong to longer audio than one request should carry.
MAX_ALIGN_TEXT_CHARS = 10_000


class _AlignFields(serializers.Serializer):
    text = TextField(
        max_length=MAX_ALIGN_TEXT_CHARS,
        help_text="What is said in the audio, as it should appear in the words and captions.",
        error_messages={"blank": "text is empty; send the words spoken in the audio.",
                        "required": "text is required: the words spoken in the audio."})
    language = serializers.CharField(
        required=False, default=None, allow_null=True, max_length=16,
        help_text="Language code of the speech (e.g. en). A language the server's speech "
                  "recognition cannot hear is refused (400 unsupported_language).")
    captions = serializers.ChoiceField(
        choices=list(CAPTION_FORMATS), required=False, default=None, allow_null=True,
        help_text="Also return subtitles (srt or vtt) in `captions`.",
        error_messages={"invalid_choice": "\"{input}\" is not a caption format; use srt or "
                                          "vtt."})

    def to_internal_value(self, data):
        if hasattr(data, "keys"):
            refuse_unknown_fields(data, self.fields)
        return super().to_internal_value(data)


class AlignMultipartSerializer(_AlignFields):
    audio = serializers.FileField(
        help_text="The recording: wav, mp3, flac, ogg/opus, m4a/aac or webm.",
        error_messages={"required": "audio is required: upload the recording to align.",
                        "empty": "audio is an empty file; upload a recording."})

    def validate_audio(self, value) -> bytes:
        return value.read()


class AlignJsonSerializer(_AlignFields):
    audio = Base64AudioField(help_text="The recording as base64.",
                             error_messages={"required": "audio is required: the base64 of "
                                                         "the recording."})


class AlignOutputSerializer(serializers.Serializer):
    words = WordSerializer(many=True, help_text="Every word of text, once, in order.")
    duration = serializers.FloatField(help_text="Seconds of audio.")
    recognised = serializers.CharField(allow_blank=True,
                                       help_text="What speech recognition heard.")
    captions = serializers.CharField(required=False, help_text="With captions: the file.")


class AlignView(BoundedUploadMixin, APIView):
    parser_classes = [MultiPartParser, JSONParser]
    throttle_classes = [RequestRateThrottle]

    @extend_schema(
        operation_id="alignSpeech", summary="Time the words of a recording (forced alignment)",
        description="The listening pass the server runs on its own speech, on a recording made "
                    "anywhere: speech recognition with word timestamps, aligned to `text` so "
                    "that every word of it appears once, in order, with start, end and "
                    "confidence (words not heard get interpolated times and confidence 0). "
                    "400 with `no_speech`, `text_too_long` (more text than the audio can "
                    "hold) or `unsupported_language`; 400 `listening_unavailable` without "
                    "speech recognition on the server (TTS_ASR_MODEL).",
        request={"multipart/form-data": AlignMultipartSerializer,
                 "application/json": AlignJsonSerializer},
        responses={200: OpenApiResponse(AlignOutputSerializer, examples=[OpenApiExample(
            "Words", value={"words": [
                {"word": "Hello", "start": 0.12, "end": 0.48, "confidence": 0.93,
                 "voice": None},
                {"word": "world.", "start": 0.52, "end": 0.97, "confidence": 0.88,
                 "voice": None}], "duration": 1.3, "recognised": "Hello world."})]),
            400: schema.GENERATE_ERRORS[400]},
        tags=["speech"])
    def post(self, request):
        serializer_class = (AlignJsonSerializer
                            if request.content_type.startswith("application/json")
                            else AlignMultipartSerializer)
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = speech_align(audio=data["audio"], text=data["text"],
                              language=data["language"], captions=data["captions"])
        return Response(AlignOutputSerializer(result).data)
