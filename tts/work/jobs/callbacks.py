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
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class CallbackRefused(Exception):
    """The callback's host is an address the server does not post to."""


def signature(body: bytes, timestamp: int, secret: str | None = None) -> str:
    key = (secret or settings.TTS_CALLBACK_SECRET).encode()  # never empty: see settings
    digest = hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def check_callback_url(url: str) -> None:
    """At submission: an address that is not global unicast (loopback, private, link-local,
    multicast, reserved, and the IPv6 forms that carry an IPv4 address: mapped, compatible,
    6to4, NAT64, Teredo), or ``localhost``, is a 400. TTS_CALLBACK_ALLOW_PRIVATE lets private
    unicast through, never multicast, broadcast or unspecified. Other names are resolved, and
    every address they give checked, at each delivery."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    address = literal_address(host)
    if address is not None:
        why = refusal(address)
    elif (host == "localhost" or host.endswith(".localhost")) and not _allow_private():
        why = "a loopback name"
    else:
        why = None
    if why:
        raise InvalidInput(
            f"callback_url points at {host}, {why}; use an address on the internet (global "
            "unicast), or set TTS_CALLBACK_ALLOW_PRIVATE=1 on the server to post inside its "
            "network.", code="callback_not_allowed", attr="callback_url")


def literal_address(host: str) -> IPAddress | None:
    """``host`` as an IP address when it is written as one, in any form the resolver would
    read as one (``127.1``, ``2130706433``, ``0x7f.0.0.1``), else None."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


#: IPv6 ranges that carry or lead to IPv4 or local space; refused whatever they embed.
_TRANSITION_V6 = {
    "IPv4-compatible (::a.b.c.d)": ipaddress.IPv6Network("::/96"),
    "IPv4-mapped": ipaddress.IPv6Network("::ffff:0:0/96"),
    "IPv4-translated": ipaddress.IPv6Network("::ffff:0:0:0/96"),
    "NAT64": ipaddress.IPv6Network("64:ff9b::/96"),
    "local-use NAT64": ipaddress.IPv6Network("64:ff9b:1::/48"),
    "6to4": ipaddress.IPv6Network("2002::/16"),
    "Teredo": ipaddress.IPv6Network("2001::/32"),
    "discard-only": ipaddress.IPv6Network("100::/64"),
    "documentation": ipaddress.IPv6Network("2001:db8::/32"),
    "ORCHID": ipaddress.IPv6Network("2001:10::/28"),
    "ORCHIDv2": ipaddress.IPv6Network("2001:20::/28"),
    "benchmarking": ipaddress.IPv6Network("2001:2::/48"),
    "segment-routing": ipaddress.IPv6Network("5f00::/16"),
}
_NOT_GLOBAL_V4 = {
    "a 6to4 relay anycast address": ipaddress.IPv4Network("192.88.99.0/24"),
    "a shared (carrier-grade NAT) address": ipaddress.IPv4Network("100.64.0.0/10"),
    "an IETF protocol address": ipaddress.IPv4Network("192.0.0.0/24"),
}


def refusal(address: IPAddress) -> str | None:
    """Why the server does not post to ``address``, or None when it may (global unicast;
    with TTS_CALLBACK_ALLOW_PRIVATE also loopback, private and link-local unicast)."""
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified:
        return "the unspecified address"
    if isinstance(address, ipaddress.IPv4Address):
        if address == ipaddress.IPv4Address("255.255.255.255"):
            return "the broadcast address"
        if address.is_reserved or address in ipaddress.IPv4Network("0.0.0.0/8"):
            return "a reserved address"
        for why, network in _NOT_GLOBAL_V4.items():
            if address in network and not _allow_private():
                return why
    else:
        if address.is_loopback:
            return None if _allow_private() else "a loopback address"
        if address.ipv4_mapped is not None:
            # Connecting to ::ffff:a.b.c.d reaches a.b.c.d: judged as that address.
            inner = refusal(address.ipv4_mapped)
            return f"IPv4-mapped {inner}" if inner else (
                None if _allow_private() else "an IPv4-mapped address")
        for why, network in _TRANSITION_V6.items():
            if address in network:
                return f"an IPv6 {why} address"
        if address not in ipaddress.IPv6Network("2000::/3"):
            local = (address.is_loopback or address.is_link_local or address.is_private
                     or address.is_site_local)
            if not (local and _allow_private()):
                return ("a loopback, private or link-local address" if local
                        else "an address outside global unicast (2000::/3)")
            return None
    if not address.is_global and not _allow_private():
        return "a loopback, private, link-local or reserved address"
    return None


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
        status = f"delivered (attempt {attempt})"
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


#: What a tenant reads in ``callback_status``: a category, never the remote's own answer or
#: the connection's error (that would make callbacks a port scanner). The log has the detail.
DELIVERED, REFUSED_BY_RECEIVER, UNREACHABLE, NOT_ALLOWED = (
    "delivered", "refused by receiver", "unreachable", "address not allowed")


def attempt_delivery(url: str, document: dict, attempt: int = 1) -> tuple[bool | None, str]:
    """POST ``document`` once, signed. (True, "delivered") when a 2xx came back; (False,
    category) when it may be tried again; (None, "address not allowed") when the address is
    refused. Redirects are not followed."""
    body = json.dumps(document).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "f5-tts-server",
               SIGNATURE_HEADER: signature(body, int(time.time())), "X-TTS-Job": document["id"],
               "X-TTS-Attempt": str(attempt)}
    try:
        status = _post(url, body, headers)
    except CallbackRefused as exc:
        logger.warning("callback of job %s to %s refused: %s", document["id"], url, exc)
        return None, NOT_ALLOWED
    except (OSError, http.client.HTTPException) as exc:
        outcome, category = f"{type(exc).__name__}: {exc}", UNREACHABLE
    else:
        outcome, category = f"HTTP {status}", REFUSED_BY_RECEIVER
        if 200 <= status < 300:
            return True, DELIVERED
    logger.warning("callback of job %s to %s failed (attempt %d): %s", document["id"], url,
                   attempt, outcome)
    return False, category


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
    for address in addresses:
        why = refusal(address)
        if why:
            raise CallbackRefused(f"{host} resolves to {address}, {why} "
                                  "(TTS_CALLBACK_ALLOW_PRIVATE)")
    return list(dict.fromkeys(str(address) for address in addresses))


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
