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
from django.db.models import Sum
from django.utils import timezone
from rest_framework.exceptions import Throttled
from rest_framework.permissions import SAFE_METHODS
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from .authentication import request_key
from .models import AuditEntry

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


class AudioQuotaThrottle(BaseThrottle):
    """Sums the audit log: exact across workers and restarts. A request that starts under the
    quota may end over it by its own length."""

    def allow_request(self, request, view) -> bool:
        key = request_key(request)
        limit = _limit(key.audio_seconds_per_day if key else None,
                       settings.TTS_AUDIO_SECONDS_PER_DAY)
        if not limit:
            return True
        entries = _audio_entries(key, self.get_ident(request))
        used = entries.aggregate(total=Sum("audio_seconds"))["total"] or 0.0
        if used < limit:
            return True
        # The quota frees up as the oldest entries leave the 24 h window.
        freed, wait = 0.0, DAY.total_seconds()
        for created, seconds in entries.order_by("created").values_list("created",
                                                                        "audio_seconds"):
            freed += seconds
            if used - freed < limit:
                wait = (created + DAY - timezone.now()).total_seconds()
                break
        wait = max(1, math.ceil(wait))
        raise Throttled(wait=wait, detail=(
            f"Quota of {limit:g} s of generated audio per 24 h used up ({used:.1f} s); retry "
            f"in {wait} s."), code="audio_quota_exceeded")
