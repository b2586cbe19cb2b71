"""The API's one error shape, for replies built outside DRF's exception handler."""

from django.conf import settings
from rest_framework import exceptions, status


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "request_too_large"


def error_body(kind: str, code: str, detail: str, attr: str | None = None) -> dict:
    return {"type": kind, "errors": [{"code": code, "detail": detail, "attr": attr}]}


def too_large_detail(length: int) -> str:
    limit_mb = settings.TTS_MAX_UPLOAD_MB
    return (f"The request body is {length / 2**20:.1f} MB; the limit is {limit_mb:g} MB "
            "(TTS_MAX_UPLOAD_MB). Send a shorter or more compressed clip.")
