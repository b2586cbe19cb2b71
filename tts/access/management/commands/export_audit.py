"""Export the audit log as CSV or JSON lines, optionally for a time range or one key."""

from __future__ import annotations

import contextlib
import csv
import json
from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from tts.access.models import AuditEntry

FIELDS = ("created", "action", "key_prefix", "client_ip", "request_id", "model", "voice",
          "ref_sha256", "text_chars", "text", "audio_seconds", "status", "outcome")


def _when(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not an ISO date or time (2026-01-31 or "
                           "2026-01-31T12:00)") from None
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = "Write the audit log to stdout (or --output) as CSV or JSON lines."

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=["csv", "jsonl"], default="csv")
        parser.add_argument("--since", type=_when, help="ISO date/time (UTC unless given).")
        parser.add_argument("--until", type=_when)
        parser.add_argument("--key", help="Only this key prefix.")
        parser.add_argument("--output", "-o", help="File to write instead of stdout.")

    def handle(self, *args, format: str, since, until, key, output, **options):
        entries = AuditEntry.objects.order_by("created")
        if since:
            entries = entries.filter(created__gte=since)
        if until:
            entries = entries.filter(created__lt=until)
        if key:
            entries = entries.filter(key_prefix=key.partition(".")[0])
        with (open(output, "w", encoding="utf-8", newline="") if output
              else contextlib.nullcontext(self.stdout)) as handle:
            rows = (dict(zip(FIELDS, values, strict=True))
                    for values in entries.values_list(*FIELDS).iterator())
            if format == "csv":
                writer = csv.DictWriter(handle, fieldnames=FIELDS, lineterminator="\n")
                writer.writeheader()
                for row in rows:
                    writer.writerow({**row, "created": row["created"].isoformat()})
            else:
                for row in rows:
                    handle.write(json.dumps({**row, "created": row["created"].isoformat()})
                                 + "\n")
        if output:
            self.stderr.write(f"wrote {entries.count()} entries to {output}")
