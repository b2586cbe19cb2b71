"""Errors of the use cases. Like the engine's, they carry a stable code and the request field
they are about; the HTTP layers map them once."""

from __future__ import annotations

import errno

from tts.engine.errors import EngineError


class NotFound(EngineError):
    """A saved resource (a voice) does not exist."""

    code = "not_found"


class Conflict(EngineError):
    """The resource is not in a state that allows this (a job not finished yet)."""

    code = "conflict"


class Forbidden(EngineError):
    """The caller may see the resource but not change it (a shared voice)."""

    code = "forbidden"


class LimitReached(EngineError):
    """The caller's own cap (not the server's capacity) refuses this now: a 429."""

    code = "limit_reached"


class InvalidInput(EngineError):
    """The request is well-formed but cannot be carried out as asked (names ``attr``)."""

    code = "invalid"


class StorageFull(EngineError):
    """The server's disk (or its database's) is full: nothing was kept, a retry after space
    is freed succeeds. Answered as 507 Insufficient Storage."""

    code = "insufficient_storage"
    retry_after = 60


#: errno values of a full disk or an exhausted quota.
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
#: How databases say it: SQLite's message, PostgreSQL's SQLSTATE class 53100 (disk_full).
_FULL_MESSAGES = ("database or disk is full", "no space left on device", "could not extend file")


def storage_full(exc: BaseException) -> StorageFull | None:
    """``exc`` as a StorageFull when it (or an exception it was raised from) says the disk or
    the database is full; None otherwise."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, StorageFull):
            return current
        if isinstance(current, OSError) and current.errno in _FULL_ERRNOS:
            return _full()
        if getattr(current, "sqlstate", None) == "53100" or any(
                text in str(current).lower() for text in _FULL_MESSAGES):
            return _full()
        current = current.__cause__ or current.__context__
    return None


def _full() -> StorageFull:
    return StorageFull("The server's storage is full, so nothing of this request was kept. "
                       "Try again later; operators: free space on the data and media disks "
                       "(GET /api/tts/health/ shows what is free).")
