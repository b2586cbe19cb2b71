"""Errors of the use cases. Like the engine's, they carry a stable code and the request field
they are about; the HTTP layers map them once."""

from __future__ import annotations

from tts.engine.errors import EngineError


class NotFound(EngineError):
    """A saved resource (a voice) does not exist."""

    code = "not_found"


class InvalidInput(EngineError):
    """The request is well-formed but cannot be carried out as asked (names ``attr``)."""

    code = "invalid"
