"""Request bodies, guarded before Django reads them (Django's ASGI handler reads a whole body
into a temporary file before any view runs): over the upload limit → 413 at once, without
reading; a body that stalls longer than TTS_BODY_TIMEOUT → 408 and the connection closed, in
the error shape of the API asked (OpenAI's under /v1/).
A body sent with ``Transfer-Encoding: chunked`` (no Content-Length) is read like any other.

Replies, guarded the other way: a streamed reply whose client accepts no data for
TTS_STREAM_SEND_TIMEOUT is ended as if the client had hung up (Django cancels the view, the
stream cancels its generation) and the connection is closed."""

from __future__ import annotations

import asyncio
import io
import json
import logging

from django.conf import settings
from django.core.handlers.asgi import ASGIHandler

from tts.api.errors import error_body, too_large_detail
from tts.observability.connections import open_connection
from tts.openai.errors import error_body as openai_error_body

logger = logging.getLogger(__name__)
OPENAI_PREFIX = "/v1/"


class _BodyRefused(Exception):
    def __init__(self, status: int, code: str, detail: str):
        self.status, self.code, self.detail = status, code, detail


class RequestGuard:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = int(settings.TTS_MAX_UPLOAD_MB * 2**20)
        length = dict(scope.get("headers") or ()).get(b"content-length", b"").strip()
        if length.isdigit() and int(length) > limit:
            return await _refuse(send, _BodyRefused(413, "request_too_large",
                                                    too_large_detail(int(length))),
                                 scope["path"])
        received, body_done = 0, False
        connection = open_connection()
        stalled = asyncio.Event()

        async def guarded_receive():
            nonlocal received, body_done
            if body_done:  # after the body: Django listens for a disconnect, no deadline
                return await _first_of(receive(), _disconnect_when(stalled))
            try:
                message = await asyncio.wait_for(receive(), settings.TTS_BODY_TIMEOUT)
            except TimeoutError:
                raise _BodyRefused(408, "request_timeout", (
                    f"The request body stalled for over {settings.TTS_BODY_TIMEOUT:g} s "
                    "(TTS_BODY_TIMEOUT); send it at a steady pace.")) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyRefused(413, "request_too_large", too_large_detail(received))
                body_done = not message.get("more_body", False)
            return message

        async def guarded_send(message):
            if message["type"] != "http.response.body" or not message.get("more_body"):
                return await send(message)
            try:
                return await asyncio.wait_for(send(message), settings.TTS_STREAM_SEND_TIMEOUT)
            except TimeoutError:
                logger.warning("%s %s: the client accepted no data for %g s "
                               "(TTS_STREAM_SEND_TIMEOUT); disconnecting it", scope["method"],
                               scope["path"], settings.TTS_STREAM_SEND_TIMEOUT)
                connection.stalled = True
                stalled.set()  # Django hears a disconnect, cancels the view and its stream
                await asyncio.Event().wait()  # until that cancel

        try:
            await self.app(scope, guarded_receive, guarded_send)
        except _BodyRefused as refused:
            await _refuse(send, refused, scope["path"])


async def _disconnect_when(stalled: asyncio.Event) -> dict:
    await stalled.wait()
    return {"type": "http.disconnect"}


async def _first_of(*waits):
    """The result of whichever awaitable finishes first; the others are cancelled."""
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        return next(iter(done)).result()
    finally:
        for task in tasks:
            task.cancel()


async def _refuse(send, refused: _BodyRefused, path: str) -> None:
    """The error in the shape of the API asked: OpenAI's under /v1/, ours elsewhere."""
    if path.startswith(OPENAI_PREFIX):
        shaped = openai_error_body(refused.detail, kind="invalid_request_error",
                                   code=refused.code)
    else:
        shaped = error_body("client_error", refused.code, refused.detail)
    body = json.dumps(shaped).encode()
    await send({"type": "http.response.start", "status": refused.status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class KnownLengthHandler(ASGIHandler):
    """Django's ASGI handler, with CONTENT_LENGTH set from the body it has read when the client
    sent none (``Transfer-Encoding: chunked``). Django's form parser and DRF take a request
    without a length for one without a body: a chunked upload would read as empty."""

    def create_request(self, scope, body_file):
        request, response = super().create_request(scope, body_file)
        if request is not None and not request.META.get("CONTENT_LENGTH"):
            size = body_file.seek(0, io.SEEK_END)
            body_file.seek(0)
            if size:
                request.META["CONTENT_LENGTH"] = str(size)
        return request, response
