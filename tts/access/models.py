"""API keys (hashed by djangorestframework-api-key) with their own limits, and the audit log."""

from __future__ import annotations

from django.db import models
from rest_framework_api_key.models import AbstractAPIKey, APIKeyManager


class ApiKey(AbstractAPIKey):
    """A client's key. Only a hash is stored; the key itself is shown once, at creation."""

    objects = APIKeyManager()

    is_admin = models.BooleanField(
        default=False,
        help_text="Manages every tenant's voices and jobs, publishes shared voices and sees "
                  "health and readiness in full (`apikeys create --admin`).")
    requests_per_minute = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="Generation requests per minute; empty uses TTS_RATE_LIMIT_PER_MINUTE, "
                  "0 means unlimited.")
    audio_seconds_per_day = models.FloatField(
        null=True, blank=True,
        help_text="Seconds of generated audio in any 24 h; empty uses "
                  "TTS_AUDIO_SECONDS_PER_DAY, 0 means unlimited.")

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "API key"
        verbose_name_plural = "API keys"


class AuditEntry(models.Model):
    """Who generated what, when, and how it went. Never the audio; the text only when the
    operator turns TTS_AUDIT_STORE_TEXT on."""

    created = models.DateTimeField(auto_now_add=True, db_index=True)
    action = models.CharField(max_length=32, help_text="generate, voice_create, ...")
    api_key = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="audit_entries")
    #: Kept when the key row is deleted, so the log still says which key it was.
    key_prefix = models.CharField(max_length=8, blank=True, db_index=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True, db_index=True)
    request_id = models.CharField(max_length=64, blank=True)
    model = models.CharField(max_length=100, blank=True)
    voice = models.CharField(max_length=100, blank=True)
    ref_sha256 = models.CharField(max_length=64, blank=True,
                                  help_text="SHA-256 of the reference clip's bytes.")
    text_chars = models.PositiveIntegerField(default=0)
    text = models.TextField(blank=True, help_text="Only with TTS_AUDIT_STORE_TEXT.")
    audio_seconds = models.FloatField(default=0.0)
    status = models.PositiveSmallIntegerField(default=0, help_text="HTTP status answered.")
    outcome = models.CharField(max_length=64, help_text="ok, or the error code.")

    class Meta:
        ordering = ("-created",)
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.created:%Y-%m-%d %H:%M:%S} {self.action} {self.outcome}"


class AudioReservation(models.Model):
    """Seconds of audio a request admitted now may make, held against its key's (or client
    address's) daily quota until the real duration is known: settled (deleted, the audit row
    then carries the real seconds) when it ends, released when it fails or is cancelled.
    One a server lost (a crash mid-request) stops counting after an hour."""

    created = models.DateTimeField(auto_now_add=True, db_index=True)
    api_key = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.CASCADE,
                                related_name="reservations")
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    seconds = models.FloatField()
    #: Held for a job until it finishes (tts.models.Job's id).
    job_id = models.CharField(max_length=36, blank=True, default="", db_index=True)

    def __str__(self) -> str:
        return f"{self.seconds:g} s held since {self.created:%Y-%m-%d %H:%M:%S}"
