"""Django-level 404/500 pages (URLs outside DRF views) in the error shape of the API asked:
OpenAI's under /v1/, the native one elsewhere."""

from django.core.exceptions import DisallowedHost
from django.http import JsonResponse

from tts.api.errors import error_body
from tts.openai import errors as openai_errors

from .hosts import bad_host_response


def _openai(request) -> bool:
    return request.path.startswith("/v1/")


def not_found(request, exception=None):
    if _openai(request):  # OpenAI clients read errors in their own shape
        return openai_errors.not_found(request)
    return JsonResponse(error_body("client_error", "not_found",
                                   f"No endpoint at {request.path}; see /api/docs/."), status=404)


def bad_request(request, exception=None):
    if isinstance(exception, DisallowedHost):
        return bad_host_response(request)
    if _openai(request):
        return JsonResponse(openai_errors.error_body(
            "Bad request.", kind="invalid_request_error", code="bad_request"), status=400)
    return JsonResponse(error_body("client_error", "bad_request", "Bad request."), status=400)


def server_error(request):
    if _openai(request):
        return openai_errors.server_error(request)
    return JsonResponse(error_body("server_error", "error",
                                   "Internal server error; the X-Request-ID header identifies "
                                   "it in the server log."), status=500)
