"""What the ASGI layer knows of a client's connection, for the code that streams to it: set
once per request by tts.web.asgi, read by a stream when it ends early (why it ended)."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass
class Connection:
    #: The client accepted no data for TTS_STREAM_SEND_TIMEOUT and is being disconnected.
    stalled: bool = False


_current: ContextVar[Connection | None] = ContextVar("tts_connection", default=None)


def open_connection() -> Connection:
    """This request's connection state (tasks the request starts share it)."""
    connection = Connection()
    _current.set(connection)
    return connection


def client_stalled() -> bool:
    connection = _current.get()
    return bool(connection and connection.stalled)
