"""`migrate`, preceded by the one step that writes to disk before serving: the var folder and,
when DJANGO_SECRET_KEY is unset, a secret key kept there (mode 0600). Importing the settings
writes nothing; every way of starting the server runs migrate first."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.conf import settings
from django.core.management.commands.migrate import Command as MigrateCommand

from config.security import derived_callback_secret


def prepare_var_dir() -> list[Path]:
    """Create what the settings point at; returns what was created."""
    created = []
    var_dir = Path(settings.VAR_DIR)
    if not var_dir.is_dir():
        var_dir.mkdir(parents=True, exist_ok=True)
        created.append(var_dir)
    key_file = Path(settings.SECRET_KEY_FILE)
    if not os.environ.get("DJANGO_SECRET_KEY") and not key_file.exists():
        descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        key = secrets.token_urlsafe(50)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(key)
        created.append(key_file)
        adopt_secret_key(key)
    return created


def adopt_secret_key(key: str) -> None:
    """This process imported the settings before the key file existed, so it made up a key
    of its own: use the one just written instead, so the system checks that migrate runs next
    see the key every later start will read (no tts.W002 while migrate is fixing it)."""
    if not settings.SECRET_KEY.startswith("ephemeral-"):
        return
    settings.SECRET_KEY = key
    if getattr(settings, "CALLBACK_SECRET_DERIVED", False):
        settings.TTS_CALLBACK_SECRET = derived_callback_secret(key)


class Command(MigrateCommand):
    help = MigrateCommand.help + " First creates TTS_VAR_DIR and its secret key file."

    def execute(self, *args, **options):
        # Before the system checks, which may already open the database.
        for path in prepare_var_dir():
            if options.get("verbosity", 1) >= 1:
                self.stdout.write(f"created {path}")
        return super().execute(*args, **options)
