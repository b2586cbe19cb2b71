"""Errors of the use cases. Like the engine's, they carry a stable code and the request field
they are about; the HTTP layers map them once."""

from __future__ import annotations

from tts.engine.errors import EngineError


class NotFound(EngineError):
    """A saved resource (a voice) does not exist."""

    code = "not_found"


class Conflict(EngineError):
    """The resource is not in a state that allows this (a job not finished yet)."""

    code = "conflict"


class InvalidInput(EngineError):
    """The request is well-formed but cannot be carried out as asked (names ``attr``)."""

    code = "invalid"
