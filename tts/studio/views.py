"""The studio page. It renders a template and sets a strict Content-Security-Policy; all
the work happens in the browser through the public API (tts/static/tts/studio/studio.js)."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

#: Every asset comes from this server; audio plays from blob: URLs made in the page; no
#: inline script or style, no frames, no plugins, forms post nowhere.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "media-src 'self' blob:",
    "connect-src 'self' blob:",  # the page re-reads audio it made (blob: URLs)
    "font-src 'self'",
    "manifest-src 'self'",
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
])
#: Texts longer than this go through a job (progress, cancel) instead of one request.
JOB_THRESHOLD_CHARS = 1000
#: The studio's own limits on a recording (the server cuts clips near 12 s).
RECORD_MIN_SECONDS = 3
RECORD_MAX_SECONDS = 12


def studio_config() -> dict[str, object]:
    """What the page needs to know before it asks the API anything."""
    return {
        "requireKey": bool(settings.TTS_REQUIRE_API_KEY),
        "asr": bool(settings.TTS_ASR_MODEL),
        "defaultModel": settings.TTS_DEFAULT_MODEL,
        "maxTextChars": settings.TTS_MAX_TEXT_CHARS,
        "maxJobChars": settings.TTS_MAX_JOB_CHARS,
        "jobThreshold": min(JOB_THRESHOLD_CHARS, settings.TTS_MAX_TEXT_CHARS),
        "recordMinSeconds": RECORD_MIN_SECONDS,
        "recordMaxSeconds": RECORD_MAX_SECONDS,
    }


def studio(request: HttpRequest) -> HttpResponse:
    """``/``: the studio, unless the operator turned it off (TTS_STUDIO=0: a 404)."""
    if not settings.TTS_STUDIO:
        raise Http404("The studio is turned off (TTS_STUDIO=0).")
    response = render(request, "tts/studio/index.html", {"config": studio_config()})
    response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response["Referrer-Policy"] = "same-origin"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-cache"
    return response
