"""``GET /metrics``: Prometheus text format, optionally behind TTS_METRICS_TOKEN; with several
server processes, the sums over all of them."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from tts.observability.metrics import scrape_registry

from .errors import error_body


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.TTS_METRICS_TOKEN
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(),
                                                                  token.encode()):
            response = JsonResponse(error_body(
                "client_error", "not_authenticated",
                "Send the metrics token as `Authorization: Bearer <TTS_METRICS_TOKEN>`."),
                status=401)
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    return HttpResponse(generate_latest(scrape_registry()), content_type=CONTENT_TYPE_LATEST)
