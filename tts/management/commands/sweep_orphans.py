"""Remove files and folders under the media root that no voice or job names (left by a crash
or a full disk), once older than the grace period; --dry-run lists them."""

from datetime import timedelta

from django.core.management.base import BaseCommand

from tts.work.orphans import GRACE, sweep_orphans


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dry-run", action="store_true",
                            help="list what would be removed, remove nothing")
        parser.add_argument("--older-than-minutes", type=float,
                            default=GRACE.total_seconds() / 60,
                            help="grace period: younger files may be being written now "
                                 "(default %(default)g)")

    def handle(self, *args, dry_run: bool, older_than_minutes: float, **options) -> None:
        found = sweep_orphans(dry_run=dry_run, grace=timedelta(minutes=older_than_minutes))
        for name in found:
            self.stdout.write(name)
        verb = "would remove" if dry_run else "removed"
        self.stdout.write(f"{verb} {len(found)} orphaned file(s) and folder(s)")
