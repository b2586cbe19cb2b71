"""Request ids: taken from X-Request-ID when sane, else made; echoed on every response and
stamped on every log line, so a client's report of a 5xx can be found in the logs."""

from __future__ import annotations

import contextvars
import logging
import re
import uuid

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_key_id: contextvars.ContextVar[str] = contextvars.ContextVar("key_id", default="-")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def current_request_id() -> str:
    return _request_id.get()


def bind_key_id(key_id: str) -> None:
    """Stamp the API key's public prefix on the log lines of the request being served."""
    _key_id.set(key_id)


class RequestIdMiddleware:
    header = "X-Request-ID"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get(self.header, "")
        request_id = given if _SAFE_ID.match(given) else uuid.uuid4().hex
        request.request_id = request_id
        token, key_token = _request_id.set(request_id), _key_id.set("-")
        try:
            response = self.get_response(request)
        finally:
            _request_id.reset(token)
            _key_id.reset(key_token)
        response[self.header] = request_id
        return response


class RequestIdLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # Django logs a response's status after the middleware has returned; that record
        # carries the request itself.
        request = getattr(record, "request", None)
        record.request_id = getattr(request, "request_id", None) or current_request_id()
        record.key_id = _key_id.get()
        return True
