"""Secure defaults decided before Django starts: what listening beyond this machine needs."""

from __future__ import annotations

import ipaddress

from config.options import SettingsError


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def bind_requirements(*, host: str, demo: bool, secret_key: str, allowed_hosts: str) -> None:
    """Outside demo mode, a server reachable from other machines must have its own secret key
    and an explicit list of host names (no generated key, no ``*``)."""
    if demo or is_loopback(host):
        return
    missing = [name for name, value in (("DJANGO_SECRET_KEY", secret_key),
                                        ("DJANGO_ALLOWED_HOSTS", allowed_hosts)) if not value]
    if missing:
        raise SettingsError(
            f"HOST={host} makes the server reachable from other machines, so "
            f"{' and '.join(missing)} must be set (a long random secret key; the host names "
            "clients use, comma-separated, e.g. tts.example.com). Listen on 127.0.0.1 behind a "
            "proxy instead, or set TTS_DEMO=1 for a throwaway demo.")
