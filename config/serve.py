"""`make serve`: uvicorn serving config.asgi, one process that holds the models.

Why an async server: a connection that trickles its headers or body, or reads a stream
slowly, costs an event-loop entry here, not a thread, so slow clients cannot starve the
server (health checks included). Connections that stall are closed: headers must arrive
within TTS_HEADER_TIMEOUT seconds, a body may pause at most TTS_BODY_TIMEOUT seconds
(tts/web/asgi.py), idle keep-alive connections go after 5 s. In production put a reverse
proxy in front for TLS; it must not buffer responses (docs/deployment.md, production checklist).
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import environ
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

# The same .env that Django reads, so HOST, PORT and the rest can live there too.
_ENV_FILE = Path(__file__).resolve().parent.parent / ".env"
if _ENV_FILE.exists():
    environ.Env.read_env(_ENV_FILE)


class GuardedH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, plus a deadline for the request headers and errors in
    the API's JSON shape for requests too malformed to reach Django."""

    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        if self._between_requests():
            self._arm_header_timer()
        super().data_received(data)
        if not self._between_requests():  # the headers are in: the request is Django's
            self._cancel_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        super().on_response_complete()  # idle keep-alive connections: uvicorn's own timeout

    def _between_requests(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _arm_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(header_timeout(), self._headers_late)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if self._between_requests() and not self.transport.is_closing():
            self.logger.info("closing a connection whose request headers took over %g s",
                             header_timeout())
            self.transport.close()

    def send_400_response(self, msg: str) -> None:
        import h11

        body = json.dumps({"type": "client_error", "errors": [{
            "code": "malformed_request", "attr": None,
            "detail": "The HTTP request could not be parsed (malformed or oversized "
                      "request line or headers)."}]}).encode()
        self.transport.write(self.conn.send(h11.Response(status_code=400, headers=[
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"connection", b"close")])))
        self.transport.write(self.conn.send(h11.Data(data=body)))
        self.transport.write(self.conn.send(h11.EndOfMessage()))
        self.transport.close()


#: prometheus_client's multiprocess folder (tts/services/metrics_workers.py).
METRICS_FOLDER_ENV = "PROMETHEUS_MULTIPROC_DIR"


def header_timeout() -> float:
    return float(os.environ.get("TTS_HEADER_TIMEOUT", "10"))


def prepare_metrics_folder(workers: int) -> Path | None:
    """With several worker processes, Prometheus metrics are shared through files: an empty
    folder in the server's var folder (or PROMETHEUS_MULTIPROC_DIR, emptied likewise) whose
    path the workers inherit. Must run before prometheus_client is imported."""
    from config.options import SettingsError, load

    given = os.environ.get(METRICS_FOLDER_ENV)
    if workers <= 1 and not given:
        return None
    try:
        folder = Path(given) if given else load().var_dir / "prometheus"
    except SettingsError:
        return None  # django.setup() reports the configuration error
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):  # the last run's values: counters start from zero
        stale.unlink()
    os.environ[METRICS_FOLDER_ENV] = str(folder)
    return folder


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """glibc gives threads that allocate at once arenas of their own (up to 8 per core) and
    keeps their free memory; every request runs in a thread of its own here. Two arenas, as
    MALLOC_ARENA_MAX=2 does, keep the resident size lower and flatter (docs/performance.md,
    soak). An operator's MALLOC_ARENA_MAX wins. Must run before any thread starts."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    import ctypes
    import ctypes.util

    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c")).mallopt
    except (OSError, AttributeError, TypeError):
        return False  # not glibc
    m_arena_max = -8
    if not mallopt(m_arena_max, arenas):
        return False
    os.environ["MALLOC_ARENA_MAX"] = str(arenas)  # worker processes and ffmpeg inherit it
    return True


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    limit_malloc_arenas()
    workers = int(os.environ.get("WEB_CONCURRENCY", "1"))
    prepare_metrics_folder(workers)
    import django

    django.setup()  # Django's LOGGING then formats uvicorn's lines too
    uvicorn.run(
        "config.asgi:application",
        host=os.environ.get("HOST", "127.0.0.1"),
        port=int(os.environ.get("PORT", "8000")),
        workers=workers,
        http=GuardedH11Protocol,
        lifespan="off",  # Django has no lifespan; models load in config.asgi
        log_config=None,
        timeout_keep_alive=5,
        timeout_graceful_shutdown=30,
        proxy_headers=True,
        forwarded_allow_ips=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
    )


if __name__ == "__main__":
    main()
