"""Create, list and revoke API keys. Stored hashed: a key is printed once, at creation."""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from tts.access.models import ApiKey, AuditEntry


def _audit(action: str, key: ApiKey, detail: str) -> None:
    """Key changes are audited like the API's (who: the command line; which key: its
    prefix)."""
    AuditEntry.objects.create(action=action, key_prefix=key.prefix[:8],
                              request_id=f"manage.py apikeys {detail}"[:64], status=200,
                              outcome="ok")


class Command(BaseCommand):
    help = "Manage API keys: create NAME, list, revoke PREFIX."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Issue a key and print it (shown only once).")
        create.add_argument("name", help="Who or what the key is for (free text, 50 chars).")
        create.add_argument("--requests-per-minute", type=int, default=None,
                            help="Own rate limit (default: TTS_RATE_LIMIT_PER_MINUTE; 0 = none).")
        create.add_argument("--audio-seconds-per-day", type=float, default=None,
                            help="Own audio quota per 24 h (default: TTS_AUDIO_SECONDS_PER_DAY; "
                                 "0 = none).")
        create.add_argument("--expires-in-days", type=float, default=None)
        create.add_argument("--admin", action="store_true",
                            help="An admin key: sees and changes every key's voices and jobs, "
                                 "publishes shared voices, reads health in full.")
        sub.add_parser("list", help="Every key: prefix, name, limits, state (* = admin).")
        revoke = sub.add_parser("revoke", help="Revoke a key for good, by its prefix.")
        revoke.add_argument("prefix", help="The part of the key before the dot.")

    def handle(self, *args, action: str, **options):
        getattr(self, f"_{action}")(**options)

    def _create(self, *, name: str, requests_per_minute, audio_seconds_per_day,
                expires_in_days, admin: bool = False, **_):
        for label, value in (("--requests-per-minute", requests_per_minute),
                             ("--audio-seconds-per-day", audio_seconds_per_day)):
            if value is not None and value < 0:
                raise CommandError(f"{label} must be 0 (unlimited) or more")
        expiry = (timezone.now() + timedelta(days=expires_in_days)
                  if expires_in_days is not None else None)
        key, raw = ApiKey.objects.create_key(
            name=name[:50], requests_per_minute=requests_per_minute,
            audio_seconds_per_day=audio_seconds_per_day, expiry_date=expiry, is_admin=admin)
        _audit("key_create", key, f"create{' --admin' if admin else ''} {key.prefix}")
        self.stderr.write(f"created {'admin ' if admin else ''}key {key.prefix} for "
                          f"{key.name!r}; store it now, it is "
                          "not shown again:")
        self.stdout.write(raw)

    def _list(self, **_):
        self.stdout.write(f"{'prefix':<9} {'state':<8} {'req/min':>8} {'audio s/day':>12} "
                          f"{'created':<17} name")
        for key in ApiKey.objects.order_by("created"):
            state = "revoked" if key.revoked else "expired" if key.has_expired else "active"
            state += "*" if key.is_admin else ""
            rpm = "default" if key.requests_per_minute is None else key.requests_per_minute
            quota = ("default" if key.audio_seconds_per_day is None
                     else f"{key.audio_seconds_per_day:g}")
            self.stdout.write(f"{key.prefix:<9} {state:<8} {rpm!s:>8} {quota:>12} "
                              f"{key.created:%Y-%m-%d %H:%M} {key.name}")

    def _revoke(self, *, prefix: str, **_):
        key = ApiKey.objects.filter(prefix=prefix.partition(".")[0]).first()
        if key is None:
            raise CommandError(f"no key with prefix {prefix!r}; see `manage.py apikeys list`")
        if not key.revoked:
            key.revoked = True
            key.save(update_fields=["revoked"])
            _audit("key_revoke", key, f"revoke {key.prefix}")
        self.stdout.write(f"revoked {key.prefix} ({key.name})")
