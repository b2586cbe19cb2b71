"""Print (or write into docs/configuration.md) the table of every TTS_* setting."""

from __future__ import annotations

import re
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from config.options import settings_table

START, END = "<!-- settings:start -->", "<!-- settings:end -->"


def replace_table(text: str, table: str) -> str:
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(text):
        raise CommandError(f"no {START} ... {END} block to replace")
    return pattern.sub(lambda _: f"{START}\n{table}\n{END}", text)


class Command(BaseCommand):
    help = ("Print the TTS_* settings table; --write docs/configuration.md updates it in "
            "place.")
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("--write", metavar="FILE", help="Markdown file with a "
                            f"{START} ... {END} block to replace.")

    def handle(self, *args, write: str | None = None, **options):
        if write is None:
            self.stdout.write(settings_table())
            return
        path = Path(write)
        path.write_text(replace_table(path.read_text(encoding="utf-8"), settings_table()),
                        encoding="utf-8")
        self.stdout.write(f"updated {path}")
