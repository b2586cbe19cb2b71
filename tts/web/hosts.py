"""A request whose ``Host`` is not in ALLOWED_HOSTS: the API's JSON 400, one WARNING line.

Django's own handling answers an HTML page and logs the DisallowedHost exception with its
traceback at ERROR on every request, which lets anyone fill the log (and page the operator)
with a wrong header. Checked here, first, so nothing below ever sees such a request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, JsonResponse

from tts.api.errors import error_body
from tts.openai import errors as openai_errors

logger = logging.getLogger("tts.security")
DETAIL = ("This server does not answer to the host named in the Host header; use its own "
          "address (DJANGO_ALLOWED_HOSTS).")


def bad_host_response(request: HttpRequest) -> JsonResponse:
    if request.path.startswith("/v1/"):
        body = openai_errors.error_body(DETAIL, kind="invalid_request_error",
                                        code="disallowed_host")
    else:
        body = error_body("client_error", "disallowed_host", DETAIL)
    response = JsonResponse(body, status=400)
    response._has_been_logged = True  # django.request would log "Bad Request" a second time
    return response


class AllowedHostMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            request.get_host()
        except DisallowedHost:
            raw = request.META.get("HTTP_HOST", "")[:100]
            logger.warning("refused a request for %s with a disallowed Host header %r",
                           request.path[:200], raw)
            return bad_host_response(request)
        return self.get_response(request)
