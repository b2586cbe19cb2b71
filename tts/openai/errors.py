"""Errors under /v1 in OpenAI's shape, ``{"error": {"message", "type", "param", "code"}}``,
which the official clients turn into their typed exceptions (BadRequestError, NotFoundError...).
"""

from __future__ import annotations

import logging

from django.http import Http404, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from tts.api.exceptions import as_engine_error, explain_media_type, to_api_exception
from tts.engine.errors import EngineError

logger = logging.getLogger(__name__)

#: Our field names, as an OpenAI client knows them.
PARAMS = {"gen_text": "input", "ref_audio": "audio_sample", "output_format": "response_format"}


def error_body(message: str, *, kind: str, param: str | None = None,
               code: str | None = None) -> dict:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def error_type(status: int) -> str:
    if status == 401:
        return "authentication_error"
    if status == 429:
        return "rate_limit_error"
    return "server_error" if status >= 500 else "invalid_request_error"


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF exception handler for the /v1 views. Unexpected exceptions are left to Django (a
    logged 500 in this shape, see server_error)."""
    param = None
    exc = as_engine_error(exc)
    if isinstance(exc, EngineError):
        param = PARAMS.get(exc.attr, exc.attr)
        exc = to_api_exception(exc)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    exc = explain_media_type(exc, context)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    message, code, field = _first_error(exc.detail, exc.get_codes())
    param = param or (PARAMS.get(field, field) if field else None)
    response.data = error_body(message, kind=error_type(response.status_code), param=param,
                               code=code)
    if response.status_code >= 500:  # busy, loading, unavailable: expected states, one line
        logger.warning("%s %s: %s", response.status_code, code, message)
        response._has_been_logged = True
    return response


def _first_error(detail, codes, field: str | None = None) -> tuple[str, str, str | None]:
    """The first message of a (possibly nested) DRF error detail, its code and its field."""
    if isinstance(detail, dict):
        if not detail:
            return "Invalid request.", "invalid", field
        key = next(iter(detail))
        name = None if key == "non_field_errors" else (f"{field}.{key}" if field else key)
        return _first_error(detail[key], codes[key] if isinstance(codes, dict) else codes,
                            name)
    if isinstance(detail, list):
        return _first_error(detail[0], codes[0] if isinstance(codes, list) else codes, field)
    return str(detail), str(codes), field


def not_found(request) -> JsonResponse:
    return JsonResponse(error_body(f"No endpoint at {request.path}; the OpenAI-compatible "
                                   "endpoints are /v1/audio/speech, /v1/audio/voices and "
                                   "/v1/models.", kind="invalid_request_error",
                                   code="unknown_url"), status=404)


def server_error(request) -> JsonResponse:
    return JsonResponse(error_body("Internal server error; the X-Request-ID header identifies "
                                   "it in the server log.", kind="server_error",
                                   code="internal_error"), status=500)
