"""Per-key (per client IP without keys) limits on generation: requests per minute, and seconds
of generated audio in any 24 h. Both answer 429 with Retry-After. A key's own limit wins over
the setting; 0 means unlimited.

Every write counts too (voice create, update, delete; job submission): against the same
per-minute budget as generation, or against a budget of its own when
TTS_WRITE_RATE_LIMIT_PER_MINUTE is set. Reads (GET) are not limited here."""

from __future__ import annotations

import logging
import math
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone
from rest_framework.exceptions import Throttled
from rest_framework.permissions import SAFE_METHODS
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from .authentication import request_key
from .models import ApiKey, AudioReservation, AuditEntry

logger = logging.getLogger(__name__)
DAY = timedelta(hours=24)


def _limit(own, default):
    return default if own is None else own


class RequestRateThrottle(SimpleRateThrottle):
    """A sliding minute in the cache (shared: CACHE_URL, or the broker's Redis in celery
    mode)."""

    scope = "generation"

    def __init__(self):  # the rate is decided per request, not from DEFAULT_THROTTLE_RATES
        pass

    def get_cache_key(self, request, view) -> str:
        key = request_key(request)
        who = f"key:{key.pk}" if key else f"ip:{self.get_ident(request)}"
        return f"throttle:{self.scope}:{who}"

    what = "generation requests"

    def limit(self, request) -> int:
        key = request_key(request)
        return _limit(key.requests_per_minute if key else None,
                      settings.TTS_RATE_LIMIT_PER_MINUTE)

    def allow_request(self, request, view) -> bool:
        limit = self.limit(request)
        if not limit:
            return True
        self.rate, self.num_requests, self.duration = f"{limit}/min", limit, 60
        try:
            if super().allow_request(request, view):
                return True
        except Exception as exc:  # noqa: BLE001 - whatever the cache backend raises
            logger.warning("rate limit not checked, the cache is unreachable (CACHE_URL): %s",
                           exc)
            return True  # the limit fails open: a cache outage refuses nobody
        wait = max(1, math.ceil(self.wait() or 1))
        raise Throttled(wait=wait, detail=(
            f"Rate limit of {limit} {self.what} per minute reached; retry in {wait} s."),
            code="rate_limited")


class WriteRateThrottle(RequestRateThrottle):
    """Voice create/update/delete and job submissions. Without TTS_WRITE_RATE_LIMIT_PER_MINUTE
    they share the generation budget (the same counter); with it, they have their own."""

    what = "writes"

    def get_cache_key(self, request, view) -> str:
        if settings.TTS_WRITE_RATE_LIMIT_PER_MINUTE:
            self.scope = "writes"
        return super().get_cache_key(request, view)

    def limit(self, request) -> int:
        own = settings.TTS_WRITE_RATE_LIMIT_PER_MINUTE
        if own:
            return own
        self.what = "generation requests and writes"
        return super().limit(request)

    def allow_request(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return super().allow_request(request, view)



def audio_used(key, ident: str | None) -> float:
    """Seconds of audio generated in the last 24 h by ``key`` (or, without one, the client
    address ``ident``)."""
    return _audio_entries(key, ident).aggregate(total=Sum("audio_seconds"))["total"] or 0.0


def _audio_entries(key, ident: str | None):
    entries = AuditEntry.objects.filter(created__gte=timezone.now() - DAY, audio_seconds__gt=0)
    return (entries.filter(api_key=key) if key
            else entries.filter(api_key__isnull=True, client_ip=ident))


def limits_of(request) -> dict:
    """The limits that apply to this request's key (or client address); None: unlimited."""
    key = request_key(request)
    rate = _limit(key.requests_per_minute if key else None, settings.TTS_RATE_LIMIT_PER_MINUTE)
    audio = _limit(key.audio_seconds_per_day if key else None,
                   settings.TTS_AUDIO_SECONDS_PER_DAY)
    return {"requests_per_minute": rate or None,
            "writes_per_minute": settings.TTS_WRITE_RATE_LIMIT_PER_MINUTE or rate or None,
            "audio_seconds_per_day": audio or None}


#: Bytes of text per second of speech, for the estimate a request reserves at admission: a
#: quick speaker's rate, so the estimate is rather too long than too short.
BYTES_PER_SECOND = 12.0
#: A reservation that was never settled (its server died mid-request) stops counting then.
RESERVATION_LIFETIME = timedelta(hours=1)


def estimate_seconds(text: str, speed: float = 1.0) -> float:
    """The audio a text makes, as the engine reckons durations (text bytes per second of
    speech, divided by the speed)."""
    return round(len(text.encode("utf-8")) / BYTES_PER_SECOND / max(speed, 0.3), 3)


def reserved_seconds(key, ident: str | None) -> float:
    live = AudioReservation.objects.filter(created__gte=timezone.now() - RESERVATION_LIFETIME)
    live = (live.filter(api_key=key) if key
            else live.filter(api_key__isnull=True, client_ip=ident))
    return live.aggregate(total=Sum("seconds"))["total"] or 0.0


def release(reservation_id: int | None) -> None:
    """Settle or release a reservation: it no longer counts (the audit row has the real
    seconds, or nothing was made)."""
    if reservation_id:
        try:
            AudioReservation.objects.filter(pk=reservation_id).delete()
        except Exception:  # a reservation left over expires on its own
            logger.exception("could not release the audio reservation %s", reservation_id)


def hold_for_job(request, job_id: str) -> None:
    """Keep this request's reservation until the job finishes (tts.access.receivers)."""
    reservation = getattr(request, "_audio_reservation", None)
    if reservation:
        AudioReservation.objects.filter(pk=reservation).update(job_id=job_id)
        request._audio_reservation = None


def release_job(job_id: str) -> None:
    """Settle or release a job's reservation; runs inside the job's end (a savepoint: a
    failure here never keeps the end from being recorded)."""
    try:
        with transaction.atomic():
            AudioReservation.objects.filter(job_id=job_id).delete()
    except Exception:  # a reservation left over expires on its own
        logger.exception("could not release the audio reservation of job %s", job_id)


def _wanted(request, text_field: str) -> tuple[str, float]:
    try:
        data = request.data
        text = data.get(text_field) or ""
        speed = float(data.get("speed") or 1.0)
    except Exception:  # noqa: BLE001 - an unreadable body: its view says what is wrong
        return "", 1.0
    return (text if isinstance(text, str) else ""), speed


class AudioQuotaThrottle(BaseThrottle):
    """Reserves the request's estimated seconds of audio against the key's (or client
    address's) daily quota, atomically: concurrent requests cannot overrun it. The audit log
    holds what was made; reservations what is being made. A request larger than what is left
    is a 429 that says how much is left and when more frees up."""

    text_field = "gen_text"

    def allow_request(self, request, view) -> bool:
        key = request_key(request)
        limit = _limit(key.audio_seconds_per_day if key else None,
                       settings.TTS_AUDIO_SECONDS_PER_DAY)
        if not limit:
            return True
        ident = self.get_ident(request)
        text, speed = _wanted(request, getattr(view, "quota_text_field", self.text_field))
        need = estimate_seconds(text, speed)
        with transaction.atomic():  # SQLite: BEGIN IMMEDIATE, one writer at a time
            if key is not None and connection.vendor != "sqlite":
                ApiKey.objects.select_for_update().filter(pk=key.pk).first()  # serialize
            elif connection.vendor == "postgresql":  # no key: one client address at a time
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))",
                                   [f"audio:{ident}"])
            used = audio_used(key, ident)
            held = reserved_seconds(key, ident)
            if used + held >= limit or used + held + need > limit:
                self._refuse(key, ident, limit, used, held, need)
            reservation = AudioReservation.objects.create(
                api_key=key, client_ip=ident if not key else None, seconds=need)
        request._audio_reservation = reservation.pk
        return True

    def _refuse(self, key, ident, limit: float, used: float, held: float, need: float):
        left = max(limit - used - held, 0.0)
        # The quota frees up as the oldest entries leave the 24 h window.
        entries = _audio_entries(key, ident)
        freed, wait = 0.0, DAY.total_seconds()
        for created, seconds in entries.order_by("created").values_list("created",
                                                                        "audio_seconds"):
            freed += seconds
            if used - freed + held + need <= limit:
                wait = (created + DAY - timezone.now()).total_seconds()
                break
        else:
            if held and not entries.exists():
                wait = RESERVATION_LIFETIME.total_seconds()
        wait = max(1, math.ceil(wait))
        asked = f"this request needs about {need:.1f} s, " if need else ""
        raise Throttled(wait=wait, detail=(
            f"Quota of {limit:g} s of generated audio per 24 h: {used:.1f} s used, "
            f"{held:.1f} s held by requests in progress, {left:.1f} s left; {asked}more frees "
            f"up in {wait} s."), code="audio_quota_exceeded")
