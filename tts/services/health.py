"""Liveness and readiness. Cheap: reads state, never loads a model.

Both are open to probes, so what they show a caller without an admin key (or an admin
session) is redacted: no file paths, no host names, no addresses (they map the server for an
attacker). The log keeps the full text, and an admin caller sees it.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from tts.execution import executor
from tts.work.disk import low_space_reason, storage_report
from tts.work.status import Readiness

__all__ = ["Readiness", "health_status", "readiness", "redact"]

logger = logging.getLogger(__name__)

#: URLs (their host, user and port), absolute POSIX and Windows paths, ~ paths.
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>)]+")
_PATH = re.compile(r"(?<![\w.:/-])(?:~|[A-Za-z]:\\|/)(?:[^\s'\"<>,;()]*[/\\])*[^\s'\"<>,;()]*")
_HOST_PID = re.compile(r"^[\w.-]+:\d+$")
_last_reason: str | None = None


def redact(text: str) -> str:
    """``text`` without URLs and file paths (each becomes ``<url>``, ``<path>``)."""
    text = _URL.sub("<url>", text)
    return _PATH.sub(lambda match: "<path>" if len(match.group(0)) > 1 else match.group(0),
                     text)


def health_status(*, full: bool = True) -> dict:
    """Raises ConfigurationError when the server cannot take work. ``storage`` is this
    process's own disks (in celery mode the web node's: it keeps the database and files).
    ``full=False``: what any caller may see (no paths, no host names)."""
    status = {**executor().health(), "storage": storage_report()}
    if full:
        return status
    for place in status["storage"].values():
        place.pop("path", None)
    for number, worker in enumerate(status.get("workers") or [], start=1):
        if _HOST_PID.match(str(worker.get("name", ""))):
            worker["name"] = f"worker-{number}"
    return _redacted(status)


def readiness(*, full: bool = True) -> Readiness:
    """``full=False``: the reason without paths and host names (the log has it whole)."""
    global _last_reason
    state = executor().readiness()
    low = low_space_reason()
    if low is not None:
        state = Readiness(False, state.default_model, low)
    if state.reason and state.reason != _last_reason:
        # Once per distinct reason; loading and warming up at start are expected (INFO).
        starting = state.reason.endswith("ready in a moment.")
        logger.log(logging.INFO if starting else logging.WARNING, "not ready: %s",
                   state.reason)
    _last_reason = state.reason
    if full or not state.reason:
        return state
    return Readiness(state.ready, state.default_model, redact(state.reason))


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _redacted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_redacted(item) for item in value]
    return value
