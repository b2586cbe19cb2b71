"""Persistence: saved voices and jobs."""

from __future__ import annotations

from django.db import models


class Voice(models.Model):
    """A reference voice kept by its owner and id (``slug``, the API's ``id``: unique per
    owner, so two tenants may each have ``narrator``). The uploaded clip and the prepared
    reference (decoded, clipped samples plus transcript) live in Django's default storage
    under ``voices/<owner>/<id>/`` (``voices/<id>/`` for a voice of no key, as for every voice
    saved before ids were per tenant); the database holds what the API shows."""

    #: Surrogate primary key: what a job or a worker names once the tenant's id is resolved.
    serial = models.BigAutoField(primary_key=True)
    #: The voice's id in the API (``id``), unique among its owner's voices.
    slug = models.SlugField(max_length=64)
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
    #: The API key's prefix that created it; "" when none did (keys off, or a voice from
    #: before voices had owners): such a voice is seen and used by every caller and changed
    #: by callers without a key and by admin keys (tts.work.voices.Tenant).
    owner = models.CharField(max_length=16, blank=True, default="", db_index=True)
    #: Published by an admin: every caller may use it, only admins may change it.
    shared = models.BooleanField(default=False)
    #: Bytes its files take (the clip as uploaded and the prepared reference): counted
    #: against its owner's storage cap (TTS_VOICE_STORAGE_MB_PER_KEY).
    stored_bytes = models.PositiveBigIntegerField(default=0)
    #: The clip's report (tts.engine.inspection): measures and findings with advice; null for
    #: voices saved before reports.
    reference_report = models.JSONField(null=True, blank=True, default=None)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "serial"]
        constraints = [models.UniqueConstraint(fields=["owner", "slug"],
                                               name="voice_id_per_owner")]

    def __str__(self) -> str:
        return f"{self.slug} ({self.name})"


class Job(models.Model):
    """A generation run in the background: submitted, watched, cancelled, fetched later.

    The request is kept whole (the upload in storage, the seed fixed at submission), so a job
    whose worker died is run again from the start with the same samples as a result."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    id = models.UUIDField(primary_key=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED,
                              db_index=True)
    #: The API key's prefix that submitted it ("" without keys): only it sees the job.
    owner = models.CharField(max_length=16, blank=True, default="", db_index=True)
    idempotency_key = models.CharField(max_length=255, blank=True, default="")
    #: Hash of the request, so a reused Idempotency-Key with another request is refused.
    request_hash = models.CharField(max_length=64)
    model = models.CharField(max_length=100)
    voice = models.CharField(max_length=64, blank=True, default="")
    #: The saved voices it names (its ``voice`` and its script's tags), resolved for its
    #: owner when submitted: voice id -> Voice.serial, so whichever process runs it uses the
    #: same voices (null: resolved when run, as before voice ids were per tenant).
    voice_keys = models.JSONField(null=True, blank=True)
    ref_audio = models.FileField(max_length=255, blank=True, default="")
    ref_text = models.TextField(blank=True, default="")
    gen_text = models.TextField()
    #: Generation options (speed, nfe_step, ..., the seed chosen at submission).
    options = models.JSONField(default=dict)
    callback_url = models.URLField(max_length=2000, blank=True, default="")
    chunks_done = models.PositiveIntegerField(default=0)
    chunks_total = models.PositiveIntegerField(null=True)
    audio_seconds = models.FloatField(default=0.0)
    result = models.FileField(max_length=255, blank=True, default="")
    sample_rate = models.PositiveIntegerField(null=True)
    #: The finished reply's metadata (model, seed, ref_text, parameters, timing ...).
    output = models.JSONField(null=True)
    #: When failed: the error in the API's one shape.
    error = models.JSONField(null=True)
    cancel_requested = models.BooleanField(default=False)
    attempts = models.PositiveIntegerField(default=0)
    worker = models.CharField(max_length=255, blank=True, default="")
    heartbeat_at = models.DateTimeField(null=True)
    callback_status = models.CharField(max_length=255, blank=True, default="")
    #: When the pending callback is next tried (null: none pending). Kept in the row, so a
    #: delivery survives a restart of whoever was to send it.
    callback_due_at = models.DateTimeField(null=True, db_index=True)
    callback_attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(
            fields=["owner", "idempotency_key"], condition=~models.Q(idempotency_key=""),
            name="job_idempotency_key_per_owner")]

    def __str__(self) -> str:
        return f"job {self.id} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status in self.FINISHED
