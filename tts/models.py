"""Persistence: saved voices."""

from __future__ import annotations

from django.db import models


class Voice(models.Model):
    """A reference voice kept by id. The uploaded clip and the prepared reference (decoded,
    clipped samples plus transcript) live in Django's default storage under ``voices/<id>/``;
    the database holds what the API shows."""

    id = models.SlugField(primary_key=True, max_length=64)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, default="")
    #: The transcript actually used (given, or recognised when ``transcribed``).
    ref_text = models.TextField()
    transcribed = models.BooleanField(default=False)
    #: Seconds of reference audio used after clipping and trimming.
    duration = models.FloatField()
    #: What part of the upload was kept: original_seconds, kept_start, kept_end, clipped.
    ref_clip = models.JSONField()
    #: The caller's statement that the speaker agreed to have their voice cloned.
    consent = models.TextField()
    #: The clip as uploaded, and the prepared reference (tts.engine.reference_store).
    clip = models.FileField(max_length=255)
    prepared = models.FileField(max_length=255)
    clip_content_type = models.CharField(max_length=100, default="application/octet-stream")
    #: New whenever the prepared reference changes: keys the in-process cache.
    reference_key = models.CharField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.id} ({self.name})"
