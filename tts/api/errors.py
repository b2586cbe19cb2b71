"""Django-level 404/500 pages in the API's one error shape (for URLs outside DRF views)."""

from django.http import JsonResponse

from tts.openai import errors as openai_errors


def error_body(kind: str, code: str, detail: str, attr: str | None = None) -> dict:
    return {"type": kind, "errors": [{"code": code, "detail": detail, "attr": attr}]}


def _openai(request) -> bool:
    return request.path.startswith("/v1/")


def too_large_detail(length: int) -> str:
    from django.conf import settings

    limit_mb = settings.TTS_MAX_UPLOAD_MB
    return (f"The request body is {length / 2**20:.1f} MB; the limit is {limit_mb:g} MB "
            "(TTS_MAX_UPLOAD_MB). Send a shorter or more compressed clip.")


def not_found(request, exception=None):
    if _openai(request):  # OpenAI clients read errors in their own shape
        return openai_errors.not_found(request)
    return JsonResponse(error_body("client_error", "not_found",
                                   f"No endpoint at {request.path}; see /api/docs/."), status=404)


def server_error(request):
    if _openai(request):
        return openai_errors.server_error(request)
    return JsonResponse(error_body("server_error", "error",
                                   "Internal server error; the X-Request-ID header identifies "
                                   "it in the server log."), status=500)
