"""Jobs: what a submission takes (generate's fields, less the reply's shape, plus a callback)
and what a job looks like."""

from __future__ import annotations

from django.core.validators import URLValidator
from rest_framework import serializers

from .serializers import (
    SPOKEN_TEXT_HELP,
    ErrorResponseSerializer,
    GenerateJsonSerializer,
    GenerateMultipartSerializer,
    OmitsAbsentFields,
    ParametersSerializer,
    SegmentSerializer,
    SimilaritySerializer,
    TimingSerializer,
    VerificationSerializer,
    WordSerializer,
)


class _JobFields(serializers.Serializer):
    callback_url = serializers.URLField(
        required=False, default="", allow_blank=True, max_length=2000,
        validators=[URLValidator(schemes=["http", "https"])],
        help_text="Where to POST the finished job (JSON, signed: `X-TTS-Signature: "
                  "t=<unix time>,v1=<HMAC-SHA256 of \"<t>.<body>\">`; docs/api/jobs.md). "
                  "Retried with growing waits until a 2xx. An address on the internet: "
                  "loopback, private and link-local ones are refused unless the server "
                  "allows them (TTS_CALLBACK_ALLOW_PRIVATE).",
        error_messages={"invalid": "callback_url must be an http(s) URL the server can reach."})

    text_limit_setting = "TTS_MAX_JOB_CHARS"

    def job_request(self) -> dict:
        data = self.validated_data
        return {"model_id": data["model"], "ref_audio": data.get("ref_audio"),
                "ref_text": data["ref_text"], "voice": data["voice"],
                "gen_text": data["gen_text"], "options": self.generation_options(),
                "callback_url": data["callback_url"]}


class JobMultipartSerializer(_JobFields, GenerateMultipartSerializer):
    stream = None
    include_spectrogram = None
    output_format = None


class JobJsonSerializer(_JobFields, GenerateJsonSerializer):
    stream = None
    include_spectrogram = None
    output_format = None


class JobProgressSerializer(serializers.Serializer):
    chunks_done = serializers.IntegerField()
    chunks_total = serializers.IntegerField(allow_null=True,
                                            help_text="Known once the job has started.")
    audio_seconds = serializers.FloatField(help_text="Seconds of speech made so far.")
    fraction = serializers.FloatField(help_text="chunks_done / chunks_total, 0 to 1.")


class JobOutputSerializer(OmitsAbsentFields):
    model = serializers.CharField()
    seed = serializers.IntegerField()
    sample_rate = serializers.IntegerField()
    duration = serializers.FloatField()
    chunks = serializers.IntegerField()
    ref_text = serializers.CharField(allow_blank=True)
    parameters = ParametersSerializer()
    timing = TimingSerializer()
    segments = SegmentSerializer(
        many=True, help_text="Where each voice speaks: one entry, or one per stretch of a "
                             "multi-voice script.")
    spoken_text = serializers.CharField(allow_blank=True, required=False,
                                        help_text=SPOKEN_TEXT_HELP)
    words = WordSerializer(many=True, required=False, allow_null=True,
                           help_text="Every word of gen_text timed (submitted with timestamps "
                                     "or captions); subtitles at links.captions.")
    verification = VerificationSerializer(required=False, allow_null=True,
                                          help_text="The guard's verdict (with verify).")
    similarity = SimilaritySerializer(required=False, allow_null=True,
                                      help_text="Speaker similarity (with similarity).")

    omitted_when_absent = ("words", "verification", "similarity")


class JobLinksSerializer(serializers.Serializer):
    self = serializers.CharField()
    audio = serializers.CharField(help_text="GET it once status is succeeded.")
    captions = serializers.CharField(help_text="Subtitles (?format=srt|vtt) once succeeded, "
                                               "for a job submitted with timestamps.")


class JobSerializer(serializers.Serializer):
    """tts.services.jobs.job_document, described."""

    id = serializers.UUIDField()
    status = serializers.ChoiceField(
        choices=["queued", "running", "succeeded", "failed", "cancelled"])
    model = serializers.CharField()
    voice = serializers.CharField(allow_null=True)
    progress = JobProgressSerializer()
    seed = serializers.IntegerField(help_text="Fixed at submission: the same seed gives the "
                                              "same samples as generate.")
    output = JobOutputSerializer(allow_null=True, help_text="Once succeeded.")
    error = ErrorResponseSerializer(allow_null=True, help_text="Once failed: the error, in the "
                                                          "API's one error shape.")
    cancel_requested = serializers.BooleanField()
    attempts = serializers.IntegerField(help_text="Runs started (more than 1: a worker died "
                                                  "and another took the job over).")
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True, help_text=(
        "When the job and its audio are deleted (TTS_JOB_RETENTION_HOURS after it finished)."))
    callback_url = serializers.CharField(allow_null=True)
    callback_status = serializers.CharField(allow_null=True)
    links = JobLinksSerializer()


class JobListSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    results = JobSerializer(many=True)
