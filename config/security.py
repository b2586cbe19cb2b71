"""The production checklist, decided before Django starts: what listening beyond this machine
needs (docs/deployment.md, "Production checklist"), and the HTTPS settings it implies.

Off loopback the server refuses to start, with one message naming every problem, when
DEBUG is on, when the secret key is missing (outside demo mode), short or a placeholder, when
the host names are missing (outside demo mode), or when the callback secret is weak. The rest
of the checklist (secure cookies, HSTS, the HTTPS redirect, X-Frame-Options) is settings
whose defaults follow the address, and `manage.py check --deploy` reports what is left."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass

from config.options import SettingsError

#: Django's own rule for a secret key (check --deploy, security.W009): long and varied.
MIN_SECRET_KEY_CHARS = 50
MIN_SECRET_KEY_UNIQUE = 5
#: A callback secret is handed to the receivers, who paste it into their code: shorter is fine.
MIN_CALLBACK_SECRET_CHARS = 32
#: Words that mark a value copied from an example rather than generated.
PLACEHOLDER_WORDS = ("changeme", "change-me", "change_me", "replace", "placeholder",
                     "your-secret", "your_secret", "yoursecret", "example", "insecure",
                     "secret-key", "secret_key", "secretkey", "xxxxxxxx", "<", "...")
#: Paths a load balancer probes over plain HTTP: never redirected to HTTPS.
REDIRECT_EXEMPT = [r"^api/tts/health/", r"^metrics$"]
HSTS_SECONDS = 365 * 24 * 3600


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def weak_secret(value: str, *, minimum: int) -> str | None:
    """Why ``value`` is not a secret worth the name, or None when it is."""
    lowered = value.lower()
    if lowered.startswith("django-insecure-") or any(w in lowered for w in PLACEHOLDER_WORDS):
        return "looks like a placeholder copied from an example"
    if len(value) < minimum:
        return f"is {len(value)} characters long; use at least {minimum}"
    if len(set(value)) < MIN_SECRET_KEY_UNIQUE:
        return f"has fewer than {MIN_SECRET_KEY_UNIQUE} different characters"
    return None


def bind_requirements(*, host: str, demo: bool, secret_key: str, allowed_hosts: str,
                      debug: bool = False, callback_secret: str = "") -> None:
    """Refuse, with one message naming every problem, to serve other machines with debug
    pages on, without a secret key and host names of its own (outside demo mode), or with a
    short or placeholder secret. Loopback addresses are exempt: nobody else can reach them."""
    if is_loopback(host):
        return
    problems = []
    if debug:
        problems.append("DJANGO_DEBUG must be off (debug pages show settings and code to "
                        "anyone)")
    if not demo:
        missing = [name for name, value in (("DJANGO_SECRET_KEY", secret_key),
                                            ("DJANGO_ALLOWED_HOSTS", allowed_hosts)) if not value]
        if missing:
            problems.append(f"{' and '.join(missing)} must be set (a long random secret key; "
                            "the host names clients use, comma-separated, e.g. tts.example.com)")
    if secret_key and (why := weak_secret(secret_key, minimum=MIN_SECRET_KEY_CHARS)):
        problems.append(f"DJANGO_SECRET_KEY {why}")
    if callback_secret:
        if why := weak_secret(callback_secret, minimum=MIN_CALLBACK_SECRET_CHARS):
            problems.append(f"TTS_CALLBACK_SECRET {why}")
        elif callback_secret == secret_key:
            problems.append("TTS_CALLBACK_SECRET must differ from DJANGO_SECRET_KEY (receivers "
                            "hold it)")
    if problems:
        raise SettingsError(
            f"HOST={host} makes the server reachable from other machines, so "
            + "; ".join(problems) + ". Make a secret with `python -c \"import secrets; "
            "print(secrets.token_urlsafe(64))\"`. Or listen on 127.0.0.1 behind a proxy "
            "instead, or set TTS_DEMO=1 for a throwaway demo (docs/deployment.md, "
            "\"Production checklist\").")


@dataclass(frozen=True)
class HttpsSettings:
    """What ``DJANGO_HTTPS`` and its parts set (docs/deployment.md)."""

    secure_cookies: bool
    hsts_seconds: int
    ssl_redirect: bool
    proxy_ssl_header: bool

    def django_settings(self) -> dict:
        values = {
            "SESSION_COOKIE_SECURE": self.secure_cookies,
            "CSRF_COOKIE_SECURE": self.secure_cookies,
            "SECURE_HSTS_SECONDS": self.hsts_seconds,
            "SECURE_SSL_REDIRECT": self.ssl_redirect,
            "SECURE_REDIRECT_EXEMPT": REDIRECT_EXEMPT,
        }
        if self.proxy_ssl_header:  # the TLS proxy says the client's scheme
            values["SECURE_PROXY_SSL_HEADER"] = ("HTTP_X_FORWARDED_PROTO", "https")
        return values


def https_settings(env, *, host: str, demo: bool) -> HttpsSettings:
    """``DJANGO_HTTPS`` (default: on off loopback outside demo mode, off on loopback) turns on
    every part; ``DJANGO_SECURE_COOKIES``, ``DJANGO_HSTS_SECONDS``, ``DJANGO_SSL_REDIRECT`` and
    ``DJANGO_PROXY_SSL_HEADER`` change one part each."""
    https = env.bool("DJANGO_HTTPS", default=not demo and not is_loopback(host))
    return HttpsSettings(
        secure_cookies=env.bool("DJANGO_SECURE_COOKIES", default=https),
        hsts_seconds=env.int("DJANGO_HSTS_SECONDS", default=HSTS_SECONDS if https else 0),
        ssl_redirect=env.bool("DJANGO_SSL_REDIRECT", default=https),
        proxy_ssl_header=env.bool("DJANGO_PROXY_SSL_HEADER", default=https))


def derived_callback_secret(secret_key: str) -> str:
    """The callback signing key when TTS_CALLBACK_SECRET is unset: derived from the Django
    secret key, never the key itself, so handing it to a receiver hands out nothing else."""
    return hmac.new(secret_key.encode(), b"tts job callback signatures",
                    hashlib.sha256).hexdigest()
