"""Request and response shapes of OpenAI's audio API, as far as this server implements it."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tts.api.serializers import (
    ACCEPTED_AUDIO,
    MAX_REF_TEXT_CHARS,
    TextField,
    check_pauses,
    normalize_field,
    pronunciations_field,
)
from tts.services.generation import SEED_RANGE

#: OpenAI's response_format -> our encoder (OpenAI's `opus` is Ogg Opus).
RESPONSE_FORMATS = {"mp3": "mp3", "opus": "ogg", "aac": "aac", "flac": "flac", "wav": "wav",
                    "pcm": "pcm"}
CONTENT_TYPES = {"mp3": "audio/mpeg", "opus": "audio/ogg", "aac": "audio/aac",
                 "flac": "audio/flac", "wav": "audio/wav", "pcm": "audio/pcm"}
#: OpenAI's speed range, and the range the model is given (values outside it are clamped).
OPENAI_SPEED = (0.25, 4.0)
MODEL_SPEED = (0.3, 2.0)


@extend_schema_field({"oneOf": [
    {"type": "string", "description": "A saved voice id."},
    {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]},
]})
class VoiceReferenceField(serializers.Field):
    """``"narrator"`` or ``{"id": "narrator"}``: the voice id either way."""

    default_error_messages = {
        # Braces doubled: DRF formats error messages.
        "invalid": "voice must be a saved voice id, as a string or as {{\"id\": \"...\"}}; "
                   "list them with GET /v1/audio/voices.",
    }

    def to_internal_value(self, data) -> str:
        if isinstance(data, dict):
            data = data.get("id")
        if not isinstance(data, str) or not data.strip():
            self.fail("invalid")
        return data.strip()

    def to_representation(self, value: str) -> str:
        return value


class OpenAISpeechRequestSerializer(serializers.Serializer):
    model = serializers.CharField(
        help_text="A model id from GET /v1/models: ours (e.g. F5-TTS), or tts-1, tts-1-hd, "
                  "gpt-4o-mini-tts (aliases of the server's default model).")
    input = TextField(
        help_text="The text to speak (at most TTS_MAX_TEXT_CHARS characters, 5000 by default). "
                  "`[voice-id]` tags switch saved voices, as on /api/tts/generate/.",
        error_messages={"blank": "input is empty; send the text to speak.",
                        "required": "input is required: the text to speak."})
    voice = VoiceReferenceField(
        help_text="A saved voice: its id, or {\"id\": ...}. Create one with POST "
                  "/v1/audio/voices.",
        error_messages={"required": "voice is required: the id of a saved voice (list them with "
                                    "GET /v1/audio/voices, create one with POST "
                                    "/v1/audio/voices); OpenAI's built-in voices such as alloy "
                                    "exist only if you save voices with those ids."})
    response_format = serializers.ChoiceField(
        choices=list(RESPONSE_FORMATS), default="mp3",
        help_text="mp3 (default), opus (Ogg Opus), aac (ADTS), flac, wav, or pcm (raw 16-bit "
                  "little-endian mono samples at 24 kHz, no header).",
        error_messages={"invalid_choice": "\"{input}\" is not a supported response_format; use "
                                          "one of mp3, opus, aac, flac, wav, pcm."})
    speed = serializers.FloatField(
        default=1.0, min_value=OPENAI_SPEED[0], max_value=OPENAI_SPEED[1],
        help_text="0.25 to 4.0, default 1.0, as OpenAI's. The model speaks well between 0.3 "
                  "and 2.0: the value is used as is inside that range and clamped to it "
                  "outside (0.25 -> 0.3, 3.0 -> 2.0).",
        error_messages={key: "speed must be between 0.25 and 4.0 (default 1.0)."
                        for key in ("min_value", "max_value", "invalid")})
    instructions = serializers.CharField(
        required=False, allow_blank=True, max_length=4096,
        help_text="Accepted for compatibility and ignored: F5-TTS takes its style from the "
                  "reference clip, not from instructions.")
    stream_format = serializers.ChoiceField(
        choices=["audio", "sse"], default="audio",
        error_messages={"invalid_choice": "\"{input}\" is not a stream_format; use audio (the "
                                          "file, sent as it is made; the default) or sse "
                                          "(Server-Sent Events)."},
        help_text="`audio`: the encoded bytes with chunked transfer; `sse`: Server-Sent Events, "
                  "`speech.audio.delta` events with base64 audio, then `speech.audio.done`.")
    seed = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=SEED_RANGE[0],
        max_value=SEED_RANGE[1],
        help_text="Extension (send through the client's extra_body): the random seed, for "
                  "reproducible audio. The seed used is in the X-Seed header.")
    nfe_step = serializers.IntegerField(
        required=False, default=None, allow_null=True, min_value=4, max_value=64,
        error_messages={key: "nfe_step must be a whole number between 4 and 64; leave it out "
                             "for the model's preset: tts-1 7 (fast), tts-1-hd 32 (best), "
                             "others the server's default quality (best, 32)."
                        for key in ("min_value", "max_value", "invalid", "max_string_length")},
        help_text="Extension: denoising steps, 4 to 64; fewer is faster. Default: the model's "
                  "preset: tts-1 = quality fast (7), tts-1-hd = best (32), others the server's "
                  "default quality (best, 32).")

    normalize = normalize_field()
    pronunciations = pronunciations_field()

    def validate_input(self, value: str) -> str:
        limit = settings.TTS_MAX_TEXT_CHARS
        if len(value) > limit:
            raise serializers.ValidationError(
                f"input is {len(value)} characters; the limit is {limit}. Split it into "
                "several requests.", code="string_above_max_length")
        check_pauses(value)
        return value

    def frontend_options(self) -> dict:
        """Extensions (send through the client's extra_body): normalize, pronunciations."""
        data = self.validated_data
        options = {"normalize": data["normalize"]}
        if data["pronunciations"]:
            options["pronunciations"] = data["pronunciations"]
        return options

    def model_speed(self) -> float:
        low, high = MODEL_SPEED
        return min(max(self.validated_data["speed"], low), high)


class OpenAIVoiceCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, help_text="The name of the new voice.")
    audio_sample = serializers.FileField(
        help_text=f"The voice's reference clip: {ACCEPTED_AUDIO}; 3-12 s of one speaker.")
    consent = serializers.CharField(
        max_length=1000, help_text="The consent recording id (or your statement that the "
                                   "speaker agreed); stored with the voice.")
    type = serializers.ChoiceField(
        choices=["audio_sample"], default="audio_sample",
        help_text="Only `audio_sample`: voices from text prompts are not supported.",
        error_messages={"invalid_choice": "Only voices from an audio_sample can be created "
                                          "here; prompt-designed voices are not supported."})
    ref_text = serializers.CharField(
        required=False, allow_blank=True, max_length=MAX_REF_TEXT_CHARS,
        help_text="Extension: the transcript of the sample. Without it the sample is "
                  "transcribed (needs TTS_ASR_MODEL).")
    id = serializers.SlugField(
        required=False, allow_blank=True, max_length=64,
        help_text="Extension: the id to give the voice; derived from the name otherwise.")


class OpenAIVoiceSerializer(serializers.Serializer):
    object = serializers.CharField(default="audio.voice")
    id = serializers.CharField()
    name = serializers.CharField()
    type = serializers.CharField(default="audio_sample")
    created_at = serializers.IntegerField(help_text="Unix time, seconds.")
    reference_report = serializers.JSONField(
        required=False, allow_null=True,
        help_text="An extension: the clip's report (measures, and findings with a severity and "
                  "what to do), as GET /api/tts/voices/{id}/ shows it.")


class OpenAIVoiceDeletedSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField(default="audio.voice.deleted")
    deleted = serializers.BooleanField()


class OpenAIVoiceEntrySerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()


class OpenAIVoiceListSerializer(serializers.Serializer):
    voices = OpenAIVoiceEntrySerializer(many=True)


class OpenAIModelSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField(default="model")
    created = serializers.IntegerField()
    owned_by = serializers.CharField()


class OpenAIModelListSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    data = OpenAIModelSerializer(many=True)


class OpenAIErrorDetailSerializer(serializers.Serializer):
    message = serializers.CharField()
    type = serializers.CharField()
    param = serializers.CharField(allow_null=True)
    code = serializers.CharField(allow_null=True)


class OpenAIErrorSerializer(serializers.Serializer):
    error = OpenAIErrorDetailSerializer()
