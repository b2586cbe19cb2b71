"""Job callbacks: the finished job POSTed to the client's URL, signed, retried.

The body is the job's JSON. ``X-TTS-Signature: t=<unix time>,v1=<hex>`` where ``v1`` is the
HMAC-SHA256, keyed with TTS_CALLBACK_SECRET (else a key derived from the secret key,
config/security.py), of ``"<t>." + body``: a receiver recomputes it and compares in constant
time, and refuses old ``t`` to stop replays (docs/api/jobs.md). Any 2xx is delivered;
anything else is retried TTS_CALLBACK_ATTEMPTS times in all, waiting 1, 2, 4 ... seconds (at
most 10 minutes).

A delivery is durable: the job's row says when it is next due (``callback_due_at``), so
whoever delivers (a Celery task with backoff, or the inline server's deliverer thread) can die
and the delivery still happens after a restart (tts.execution).

Clients choose the URL, so the server posts only to addresses on the internet unless
TTS_CALLBACK_ALLOW_PRIVATE: a name is resolved once per attempt, every address it gives is
checked, and the connection goes to the checked address (a second lookup could answer
otherwise); redirects are not followed.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import socket
import ssl
import time
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone

from tts.models import Job
from tts.work.errors import InvalidInput

from .document import job_document

logger = logging.getLogger(__name__)
TIMEOUT_SECONDS = 10
#: The longest wait between two attempts at one callback.
MAX_BACKOFF_SECONDS = 600
SIGNATURE_HEADER = "X-TTS-Signature"


class CallbackRefused(Exception):
    """The callback's host is an address the server does not post to."""


def signature(body: bytes, timestamp: int, secret: str | None = None) -> str:
    key = (secret or settings.TTS_CALLBACK_SECRET).encode()  # never empty: see settings
    digest = hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def check_callback_url(url: str) -> None:
    """At submission: a loopback, private or link-local address (or ``localhost``) is a 400
    unless TTS_CALLBACK_ALLOW_PRIVATE. Other names are resolved, and checked, at delivery."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    try:
        refused = not _allowed(ipaddress.ip_address(host))
    except ValueError:  # a name
        refused = (host == "localhost" or host.endswith(".localhost")) and not _allow_private()
    if refused:
        raise InvalidInput(
            f"callback_url points at {host}, a loopback, private or link-local address; use "
            "an address on the internet, or set TTS_CALLBACK_ALLOW_PRIVATE=1 on the server to "
            "post inside its network.", code="callback_not_allowed", attr="callback_url")


def deliver_due(job_id: str) -> float | None:
    """One attempt at the job's pending callback, if it is due and no other deliverer holds
    it. Returns the seconds until the next attempt when this one failed and attempts remain
    (TTS_CALLBACK_ATTEMPTS); None otherwise. The outcome is kept on the job."""
    now = timezone.now()
    lease = now + timedelta(seconds=2 * TIMEOUT_SECONDS)  # a deliverer that dies frees it
    if not Job.objects.filter(id=job_id, callback_due_at__lte=now).update(
            callback_due_at=lease):
        return None
    job = Job.objects.get(id=job_id)
    attempt = job.callback_attempts + 1
    attempts = settings.TTS_CALLBACK_ATTEMPTS
    delivered, outcome = attempt_delivery(job.callback_url, job_document(job), attempt)
    retry = None
    if delivered:
        status = f"delivered: {outcome} (attempt {attempt})"
    elif delivered is None:
        status = f"refused: {outcome}"
    elif attempt >= attempts:
        status = f"failed after {attempts} attempts: {outcome}"
    else:
        retry = backoff_seconds(attempt)
        status = f"retrying in {retry:g} s: {outcome} (attempt {attempt} of {attempts})"
    Job.objects.filter(id=job_id).update(
        callback_attempts=attempt, callback_status=status[:255],
        callback_due_at=timezone.now() + timedelta(seconds=retry) if retry else None)
    return retry


def backoff_seconds(attempt: int) -> float:
    """1, 2, 4 ... seconds after attempts 1, 2, 3 ..., at most MAX_BACKOFF_SECONDS."""
    return float(min(2 ** (attempt - 1), MAX_BACKOFF_SECONDS))


def due_callbacks(*, overdue_seconds: float = 0.0, limit: int = 100) -> list[str]:
    """Jobs whose callback has been due for at least ``overdue_seconds``."""
    before = timezone.now() - timedelta(seconds=overdue_seconds)
    return [str(job_id) for job_id in Job.objects.filter(callback_due_at__lte=before)
            .order_by("callback_due_at").values_list("id", flat=True)[:limit]]


def attempt_delivery(url: str, document: dict, attempt: int = 1) -> tuple[bool | None, str]:
    """POST ``document`` once, signed. (True, "HTTP 2xx") when delivered; (False, why) when
    it may be tried again; (None, why) when the address is refused. Redirects are not
    followed."""
    body = json.dumps(document).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "f5-tts-server",
               SIGNATURE_HEADER: signature(body, int(time.time())), "X-TTS-Job": document["id"],
               "X-TTS-Attempt": str(attempt)}
    try:
        status = _post(url, body, headers)
    except CallbackRefused as exc:
        logger.warning("callback of job %s to %s refused: %s", document["id"], url, exc)
        return None, str(exc)
    except (OSError, http.client.HTTPException) as exc:
        outcome = f"{type(exc).__name__}: {exc}"
    else:
        outcome = f"HTTP {status}"
        if 200 <= status < 300:
            return True, outcome
    logger.warning("callback of job %s to %s failed (attempt %d): %s", document["id"], url,
                   attempt, outcome)
    return False, outcome


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST to the address the host resolved to and was checked at (no second lookup that
    could answer differently), and return the status."""
    parts = urlsplit(url)
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    addresses = _checked_addresses(parts.hostname or "", port)
    connection = (_PinnedHTTPSConnection if secure else _PinnedHTTPConnection)(
        parts.hostname, port, addresses=addresses, timeout=TIMEOUT_SECONDS)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", path, body=body, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


def _checked_addresses(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = [ipaddress.ip_address(info[4][0].partition("%")[0]) for info in infos]
    refused = [address for address in addresses if not _allowed(address)]
    if refused:
        raise CallbackRefused(f"{host} resolves to {refused[0]}, a loopback, private or "
                              "link-local address (TTS_CALLBACK_ALLOW_PRIVATE)")
    return list(dict.fromkeys(str(address) for address in addresses))


def _allowed(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return _allow_private() or address.is_global


def _allow_private() -> bool:
    return settings.TTS_CALLBACK_ALLOW_PRIVATE


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the first of ``addresses`` that answers, while naming ``host`` (the Host
    header, TLS's server name)."""

    def __init__(self, host: str, port: int, *, addresses: list[str], timeout: float):
        super().__init__(host, port, timeout=timeout)
        self.addresses = addresses

    def connect(self) -> None:
        failure = OSError(f"no address for {self.host}")
        for address in self.addresses:
            try:
                self.sock = socket.create_connection((address, self.port), self.timeout)
                return
            except OSError as exc:
                failure = exc
        raise failure


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    default_port = http.client.HTTPS_PORT

    def connect(self) -> None:
        super().connect()
        self.sock = ssl.create_default_context().wrap_socket(self.sock,
                                                             server_hostname=self.host)


def seconds_until_next_callback() -> float | None:
    """Seconds until the next pending callback is due (0 if one is due now), None if none."""
    due = (Job.objects.filter(callback_due_at__isnull=False).order_by("callback_due_at")
           .values_list("callback_due_at", flat=True).first())
    return None if due is None else max((due - timezone.now()).total_seconds(), 0.0)
