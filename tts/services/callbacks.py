"""Job callbacks: the finished job POSTed to the client's URL, signed, retried.

The body is the job's JSON. ``X-TTS-Signature: t=<unix time>,v1=<hex>`` where ``v1`` is the
HMAC-SHA256, keyed with TTS_CALLBACK_SECRET (else the Django secret key), of
``"<t>." + body``: a receiver recomputes it and compares in constant time, and refuses old
``t`` to stop replays (README "Jobs"). Any 2xx is delivered; anything else is retried
TTS_CALLBACK_ATTEMPTS times in all, waiting 1, 2, 4 ... seconds.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from django.conf import settings

logger = logging.getLogger(__name__)
TIMEOUT_SECONDS = 10
SIGNATURE_HEADER = "X-TTS-Signature"


def signature(body: bytes, timestamp: int, secret: str | None = None) -> str:
    key = (secret or settings.TTS_CALLBACK_SECRET or settings.SECRET_KEY).encode()
    digest = hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def deliver_callback(url: str, document: dict,
                     on_result: Callable[[str], None] = lambda text: None) -> bool:
    """POST ``document`` to ``url`` until a 2xx or the attempts run out; ``on_result`` gets a
    line saying how it went (kept on the job)."""
    body = json.dumps(document).encode()
    attempts = settings.TTS_CALLBACK_ATTEMPTS
    outcome = ""
    for attempt in range(1, attempts + 1):
        timestamp = int(time.time())
        request = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/json", "User-Agent": "f5-tts-server",
            SIGNATURE_HEADER: signature(body, timestamp), "X-TTS-Job": document["id"],
            "X-TTS-Attempt": str(attempt)})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                outcome = f"HTTP {response.status}"
                if 200 <= response.status < 300:
                    on_result(f"delivered: {outcome} (attempt {attempt})")
                    return True
        except urllib.error.HTTPError as exc:
            outcome = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            outcome = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
        logger.warning("callback of job %s to %s failed (attempt %d of %d): %s",
                       document["id"], url, attempt, attempts, outcome)
        if attempt < attempts:
            time.sleep(2 ** (attempt - 1))
    on_result(f"failed after {attempts} attempts: {outcome}")
    return False
