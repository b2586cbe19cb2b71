"""One request's channel between a web process and the Celery worker that serves it.

A Redis stream per request carries what the worker makes, in order (the typed replies of
tts.execution.messages: taken, started, pieces of audio, events, the result or an error,
end), so the web process reads them as they come, however late it starts reading; a list
carries the web side's cancel. Uploads travel beside the task (a key with a lifetime), not
inside the broker message. Every key expires on its own: a vanished peer leaves nothing
behind.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache

import redis
from django.conf import settings
from kombu.exceptions import OperationalError

from tts.engine import errors as engine_errors
from tts.work import errors as _work_errors  # rebuild_error finds its classes too

from .messages import Beat, Failure, Message, read_reply

logger = logging.getLogger(__name__)
#: Seconds every key of a channel outlives its last write.
KEY_SECONDS = 600
#: How often a worker says it is alive while it works on a request.
BEAT_SECONDS = 2.0


@contextlib.contextmanager
def broker_errors() -> Iterator[None]:
    """Redis down or unreachable: a 503 that says so, not a 500."""
    try:
        yield
    except (redis.RedisError, OperationalError) as exc:
        logger.warning("the broker failed: %s", exc, exc_info=True)
        raise engine_errors.EngineBusy(
            f"The broker (CELERY_BROKER_URL) is unreachable: {exc}. Workers and web nodes "
            "need it in celery mode.", code="broker_unreachable", retry_after=10) from None


@cache
def connection() -> redis.Redis:
    """The process's Redis client (the broker's server), shared by its threads."""
    return redis.Redis.from_url(settings.CELERY_BROKER_URL, health_check_interval=30)


@dataclass(frozen=True)
class Received:
    """One entry of the relay: the typed reply and the bytes that came with it."""

    message: Message
    data: bytes = b""


class Relay:
    """The channel of one request; both sides build it from the same id."""

    def __init__(self, relay_id: str | None = None):
        self.id = relay_id or uuid.uuid4().hex
        self._stream = f"tts:relay:{self.id}"
        self._cancel = f"tts:relay:{self.id}:cancel"
        self._upload = f"tts:relay:{self.id}:upload"
        self._last = "0-0"

    # --- the web side ---------------------------------------------------------------------
    def put_upload(self, data: bytes | None) -> None:
        if data is not None:
            connection().set(self._upload, data, ex=KEY_SECONDS)

    def read(self, timeout: float) -> Received | None:
        """The next message, or None when nothing came within ``timeout`` seconds. Blocks a
        second at a time, well inside the client's socket timeout."""
        deadline = time.monotonic() + timeout
        reply = None
        while not reply:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            reply = connection().xread({self._stream: self._last}, count=1,
                                       block=max(int(min(left, 1.0) * 1000), 1))
        entry_id, fields = reply[0][1][0]
        self._last = entry_id
        return Received(read_reply(json.loads(fields[b"message"])), fields.get(b"data", b""))

    def messages(self, *, first_timeout: float, timeout: float) -> Iterator[Received]:
        """Messages until the channel goes silent: ``first_timeout`` for the first one (a
        worker must take the request), ``timeout`` between the next ones (the worker beats
        while it works, so silence means it is gone). Beats are not yielded."""
        wait = first_timeout
        while True:
            message = self.read(wait)
            if message is None:
                return
            wait = timeout
            if not isinstance(message.message, Beat):
                yield message

    def cancel(self) -> None:
        conn = connection()
        conn.rpush(self._cancel, b"1")
        conn.expire(self._cancel, KEY_SECONDS)

    def discard(self) -> None:
        connection().delete(self._stream, self._upload)

    # --- the worker side ------------------------------------------------------------------
    def take_upload(self) -> bytes | None:
        return connection().getdel(self._upload)

    def publish(self, message: Message, data: bytes = b"") -> None:
        conn = connection()
        conn.xadd(self._stream, {"message": message.model_dump_json(), "data": data})
        conn.expire(self._stream, KEY_SECONDS)

    def publish_error(self, exc: BaseException) -> None:
        self.publish(failure(exc))

    def watch(self, on_cancel: Callable[[], None]) -> Callable[[], None]:
        """Beat while the caller works, call ``on_cancel`` when the web side cancels; the
        returned function stops watching."""
        done = threading.Event()

        def run() -> None:
            conn = connection()
            while not done.is_set():
                if conn.blpop([self._cancel], timeout=BEAT_SECONDS):
                    on_cancel()
                    return
                if not done.is_set():
                    self.publish(Beat())

        thread = threading.Thread(target=run, name=f"relay-{self.id[:8]}", daemon=True)
        thread.start()
        return done.set


# --- errors across the channel ----------------------------------------------------------------
def failure(exc: BaseException) -> Failure:
    """What rebuilds the same error on the other side (any other exception: a failure)."""
    exc = _work_errors.storage_full(exc) or exc
    if isinstance(exc, engine_errors.EngineError):
        return Failure(error_class=type(exc).__name__, message=exc.message, code=exc.code,
                       attr=exc.attr, retry_after=exc.retry_after)
    return Failure(error_class="EngineError", code="worker_error",
                   message=f"The worker failed ({type(exc).__name__}); see the worker's log.")


def _error_classes() -> dict[str, type[engine_errors.EngineError]]:
    found: dict[str, type[engine_errors.EngineError]] = {}
    pending = [engine_errors.EngineError]
    while pending:
        cls = pending.pop()
        found[cls.__name__] = cls
        pending.extend(cls.__subclasses__())
    return found


def rebuild_error(failed: Failure) -> engine_errors.EngineError:
    """The worker's error as this process's exception of the same class, code and field."""
    cls = _error_classes().get(failed.error_class, engine_errors.EngineError)
    exc = cls.__new__(cls)
    engine_errors.EngineError.__init__(exc, failed.message, code=failed.code, attr=failed.attr,
                                       retry_after=failed.retry_after)
    return exc
