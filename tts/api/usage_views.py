"""GET /api/tts/usage/: what the caller's key has used of its limits."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from tts.access.authentication import request_key, tenant_of
from tts.access.throttles import audio_used, limits_of
from tts.services import jobs, voices


class VoiceUsageSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Voices this key owns.")
    count_limit = serializers.IntegerField(allow_null=True, help_text="TTS_VOICES_PER_KEY; "
                                           "null: unlimited.")
    bytes = serializers.IntegerField(help_text="Bytes its voices' files take.")
    bytes_limit = serializers.IntegerField(allow_null=True, help_text=(
        "TTS_VOICE_STORAGE_MB_PER_KEY in bytes; null: unlimited."))


class UsageSerializer(serializers.Serializer):
    key = serializers.CharField(allow_null=True, help_text="The key's public prefix; null "
                                "without a key (then the client address is counted).")
    admin = serializers.BooleanField()
    requests_per_minute = serializers.IntegerField(allow_null=True)
    writes_per_minute = serializers.IntegerField(allow_null=True)
    audio_seconds_per_day = serializers.FloatField(allow_null=True)
    audio_seconds_used = serializers.FloatField(help_text="In the last 24 h.")
    audio_seconds_left = serializers.FloatField(allow_null=True)
    jobs_active = serializers.IntegerField(help_text="Your jobs queued or running now.")
    jobs_limit = serializers.IntegerField(allow_null=True, help_text="TTS_JOBS_PER_KEY; null: "
                                          "no cap.")
    voices = VoiceUsageSerializer()


class UsageView(APIView):
    @extend_schema(operation_id="getUsage", summary="Your usage and limits",
                   description="The limits that apply to your key (null: unlimited), the "
                               "seconds of audio it generated in the last 24 h, and its "
                               "voices' count and storage against their caps.",
                   responses={200: UsageSerializer}, tags=["operations"])
    def get(self, request):
        key = request_key(request)
        tenant = tenant_of(request)
        limits = limits_of(request)
        used = audio_used(key, BaseThrottle().get_ident(request))
        quota = limits["audio_seconds_per_day"]
        body = {"key": key.prefix if key else None, "admin": tenant.admin, **limits,
                "audio_seconds_used": round(used, 3),
                "audio_seconds_left": None if quota is None else round(max(quota - used, 0), 3),
                "jobs_active": jobs.active_jobs(owner=key.prefix if key else ""),
                "jobs_limit": None if tenant.admin else settings.TTS_JOBS_PER_KEY or None,
                "voices": voices.voice_usage(tenant)}
        return Response(UsageSerializer(body).data)
