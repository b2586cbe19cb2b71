"""Jobs: /api/tts/jobs/. Validate, call one service, shape the reply."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from tts.access.audit import audited, note, note_voices
from tts.access.authentication import request_key, tenant_of
from tts.access.throttles import (
    AudioQuotaThrottle,
    RequestRateThrottle,
    WriteRateThrottle,
    hold_for_job,
)
from tts.services import jobs
from tts.services.generation import OUTPUT_FORMATS

from . import schema
from .job_serializers import (
    JobJsonSerializer,
    JobListSerializer,
    JobMultipartSerializer,
    JobSerializer,
)
from .parsers import JSONParser, MultiPartParser
from .renderers import AudioRenderer
from .uploads import BoundedUploadMixin
from .views import negotiated_format

IDEMPOTENCY_HEADER = "Idempotency-Key"
LIST_LIMIT = 100
STATUSES = ["queued", "running", "succeeded", "failed", "cancelled"]

JOB_EXAMPLE = OpenApiExample("A running job", response_only=True, value={
    "id": "3f1c2a9e-8d4b-4c57-9a51-0b7e6f1d2c3a", "status": "running", "model": "F5-TTS",
    "voice": "narrator",
    "progress": {"chunks_done": 3, "chunks_total": 12, "audio_seconds": 21.4, "fraction": 0.25},
    "seed": 123456, "output": None, "error": None, "cancel_requested": False, "attempts": 1,
    "created_at": "2025-06-01T12:00:00Z", "started_at": "2025-06-01T12:00:01Z",
    "finished_at": None, "expires_at": None, "callback_url": None, "callback_status": None,
    "links": {"self": "/api/tts/jobs/3f1c2a9e-8d4b-4c57-9a51-0b7e6f1d2c3a/",
              "audio": "/api/tts/jobs/3f1c2a9e-8d4b-4c57-9a51-0b7e6f1d2c3a/audio/"}})
JOB_NOT_FOUND = schema.error("No such job (or not yours).", (
    "Unknown job", "client_error", "job_not_found",
    "No job '3f1c2a9e'; list yours with GET /api/tts/jobs/.", "id"))
SUBMIT_DESCRIPTION = """
Run a generation in the background: the same inputs as `POST /api/tts/generate/` (an uploaded
`ref_audio` with `ref_text`, or a saved `voice`), up to TTS_MAX_JOB_CHARS characters of text,
and an optional `callback_url`. Answers **202** at once with the job and its `Location`; poll
it for `status` and `progress`, then fetch `links.audio` in any format.

Send an `Idempotency-Key` header (any unique string, e.g. a UUID) to make retries safe: the
same key with the same request returns the same job; with another request it is a 409.

```bash
curl -X POST {server}/api/tts/jobs/ -H "Idempotency-Key: chapter-1" \\
  -F voice=narrator -F "gen_text=<chapter1.txt"
```

(`gen_text=<file` sends the file's text as the field; `gen_text=@file` would upload it as a
file, which is a 400.)
"""


def owner_of(request) -> str:
    """Jobs belong to the key that submitted them ("" when keys are not used)."""
    key = request_key(request)
    return key.prefix if key is not None else ""


def jobs_seen_by(request) -> str | None:
    """Whose jobs this request reads and cancels: its key's; an admin key's, everyone's."""
    key = request_key(request)
    return None if key is not None and key.is_admin else owner_of(request)


def job_reply(job, *, status_code: int = status.HTTP_200_OK, located: bool = False
              ) -> Response:
    """The job as JSON; ``located`` adds its ``Location`` (a new submission)."""
    document = jobs.job_document(job)
    response = Response(JobSerializer(document).data, status=status_code)
    if located:
        response["Location"] = document["links"]["self"]
    return response


class JobListView(BoundedUploadMixin, APIView):
    parser_classes = [MultiPartParser, JSONParser]

    def get_throttles(self):  # submitting counts against the key's limits, reading does not
        if self.request.method == "POST":
            return [RequestRateThrottle(), AudioQuotaThrottle()]
        return []

    @extend_schema(
        operation_id="listJobs", summary="List your recent jobs",
        parameters=[
            OpenApiParameter("status", str, enum=STATUSES, required=False,
                             description="Only jobs in this state."),
            OpenApiParameter("limit", int, required=False,
                             description=f"At most this many, newest first (1-{LIST_LIMIT}, "
                                         "default 20)."),
        ],
        responses={200: JobListSerializer, 400: schema.GENERATE_ERRORS[400]}, tags=["jobs"])
    def get(self, request):
        query = _ListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        found = jobs.job_list(owner=jobs_seen_by(request),
                              status=query.validated_data["status"])
        page = found[: query.validated_data["limit"]]
        return Response(JobListSerializer({
            "count": found.count(), "results": [jobs.job_document(job) for job in page]}).data)

    @extend_schema(
        operation_id="submitJob", summary="Submit a long generation as a job",
        description=SUBMIT_DESCRIPTION,
        request={"multipart/form-data": JobMultipartSerializer,
                 "application/json": JobJsonSerializer},
        parameters=[OpenApiParameter(
            IDEMPOTENCY_HEADER, str, OpenApiParameter.HEADER, required=False,
            description="Makes a retried submission return the same job (at most 255 "
                        "characters).")],
        responses={202: OpenApiResponse(JobSerializer, examples=[JOB_EXAMPLE],
                                        description="Accepted; `Location` names the job."),
                   400: schema.GENERATE_ERRORS[400], 404: schema.GENERATE_ERRORS[404],
                   409: schema.error("Idempotency-Key reused with another request.", (
                       "Key reused", "client_error", "idempotency_key_reused",
                       "This Idempotency-Key was used with a different request; send a new "
                       "key for a new job.", "Idempotency-Key")),
                   413: schema.GENERATE_ERRORS[413]},
        tags=["jobs"])
    @audited("job_submit")
    def post(self, request):
        key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
        if len(key) > 255:
            raise ValidationError({IDEMPOTENCY_HEADER: [ErrorDetail(
                "Idempotency-Key is longer than 255 characters; send a UUID.",
                code="max_length")]})
        serializer_class = (JobJsonSerializer
                            if request.content_type.startswith("application/json")
                            else JobMultipartSerializer)
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = request.data.get("ref_audio")
        job_request = serializer.job_request()
        note_voices(voice=job_request.get("voice", ""), gen_text=job_request["gen_text"])
        job, created = jobs.job_submit(
            owner=owner_of(request), idempotency_key=key, tenant=tenant_of(request),
            max_active=0 if tenant_of(request).admin else settings.TTS_JOBS_PER_KEY,
            filename=getattr(upload, "name", "") or "", **job_request)
        if created:
            hold_for_job(request, str(job.id))  # its quota reservation lasts until it ends
        response = job_reply(job, status_code=status.HTTP_202_ACCEPTED, located=True)
        if not created:
            response["Idempotent-Replayed"] = "true"
        return response


class _ListQuery(serializers.Serializer):
    status = serializers.ChoiceField(choices=STATUSES, required=False, default="")
    limit = serializers.IntegerField(min_value=1, max_value=LIST_LIMIT, required=False,
                                     default=20)


class JobDetailView(APIView):
    throttle_classes = [WriteRateThrottle]  # cancelling: reads are not limited

    @extend_schema(operation_id="getJob", summary="A job: status, progress, result",
                   responses={200: OpenApiResponse(JobSerializer, examples=[JOB_EXAMPLE]),
                              404: JOB_NOT_FOUND}, tags=["jobs"])
    def get(self, request, job_id: str):
        return job_reply(jobs.job_get(job_id=job_id, owner=jobs_seen_by(request)))

    @extend_schema(operation_id="cancelJob", summary="Cancel a job",
                   description="A queued job is cancelled at once; a running one stops within "
                               "a denoising step (poll until `status` is `cancelled`). A "
                               "finished job is a 409.",
                   responses={202: JobSerializer, 404: JOB_NOT_FOUND,
                              409: schema.error("Already finished.", (
                                  "Finished", "client_error", "job_finished",
                                  "The job has already succeeded; nothing to cancel.", "id"))},
                   tags=["jobs"])
    @audited("job_cancel", text_field="")
    def delete(self, request, job_id: str):
        job = jobs.job_cancel(job_id=job_id, owner=jobs_seen_by(request))
        note(voice=job.voice, model=job.model)
        return job_reply(job, status_code=status.HTTP_202_ACCEPTED)


class JobAudioView(APIView):
    renderer_classes = [AudioRenderer, JSONRenderer]

    def handle_exception(self, exc):
        # Errors are JSON even when the client asked for audio.
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)

    @extend_schema(
        operation_id="getJobAudio", summary="A finished job's audio",
        description="The speech in `output_format` (or the type an `Accept: audio/...` header "
                    "names; default wav): the same bytes generate returns for the same "
                    "request and seed.",
        parameters=[OpenApiParameter("output_format", str, enum=list(OUTPUT_FORMATS),
                                     required=False)],
        responses={(200, "audio/*"): OpenApiResponse(OpenApiTypes.BINARY),
                   400: schema.GENERATE_ERRORS[400], 404: JOB_NOT_FOUND,
                   409: schema.error("Not finished, or failed.", (
                       "Running", "client_error", "job_not_succeeded",
                       "The job is running: poll GET /api/tts/jobs/{id}/ until status is "
                       "succeeded.", "id"))},
        tags=["jobs"])
    def get(self, request, job_id: str):
        output_format = self._output_format(request)
        job, data, content_type = jobs.job_audio(job_id=job_id, owner=jobs_seen_by(request),
                                                 output_format=output_format)
        response = HttpResponse(data, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="job-{job.id}.{output_format}"'
        output = job.output or {}
        for name, value in {"X-Model": job.model, "X-Seed": output.get("seed"),
                            "X-Sample-Rate": job.sample_rate,
                            "X-Duration": output.get("duration"),
                            "X-Chunks": output.get("chunks")}.items():
            response[name] = str(value)
        similarity = (output.get("similarity") or {}).get("similarity")
        if similarity is not None:
            response["X-Voice-Similarity"] = str(similarity)
        return response

    @staticmethod
    def _output_format(request) -> str:
        requested = request.query_params.get("output_format", "")
        if requested and requested not in OUTPUT_FORMATS:
            raise ValidationError({"output_format": [ErrorDetail(
                f"\"{requested}\" is not a supported output_format; use one of "
                f"{', '.join(OUTPUT_FORMATS)}.", code="invalid_choice")]})
        return negotiated_format(request, requested) or "wav"


CAPTION_CONTENT_TYPES = {"srt": "application/x-subrip; charset=utf-8",
                         "vtt": "text/vtt; charset=utf-8"}


class JobCaptionsView(APIView):
    @extend_schema(
        operation_id="getJobCaptions", summary="A finished job's subtitles",
        description="SubRip (`srt`, the default) or WebVTT (`vtt`) made from the job's word "
                    "timings (`output.words`): at most 42 characters a line, 2 lines and ~7 s "
                    "a cue, cues broken at sentence and clause ends. Needs a job submitted with "
                    "`timestamps` (or `captions`).",
        parameters=[OpenApiParameter("format", str, enum=list(CAPTION_CONTENT_TYPES),
                                     required=False)],
        responses={(200, "text/plain"): OpenApiResponse(OpenApiTypes.STR),
                   400: schema.GENERATE_ERRORS[400], 404: JOB_NOT_FOUND,
                   409: schema.error("Not finished, or without timestamps.", (
                       "No timestamps", "client_error", "no_timestamps",
                       "The job was submitted without timestamps, ...", "id"))},
        tags=["jobs"])
    def get(self, request, job_id: str):
        fmt = request.query_params.get("format", "srt")
        if fmt not in CAPTION_CONTENT_TYPES:
            raise ValidationError({"format": [ErrorDetail(
                f"\"{fmt}\" is not a caption format; use srt or vtt.", code="invalid_choice")]})
        job, text = jobs.job_captions(job_id=job_id, owner=jobs_seen_by(request), fmt=fmt)
        response = HttpResponse(text.encode("utf-8"), content_type=CAPTION_CONTENT_TYPES[fmt])
        response["Content-Disposition"] = f'inline; filename="job-{job.id}.{fmt}"'
        return response
