"""Delete finished jobs older than TTS_JOB_RETENTION_HOURS, with their audio and uploads."""

from django.core.management.base import BaseCommand

from tts.work.jobs.retention import job_purge_expired


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args, **options) -> None:
        count = job_purge_expired()
        self.stdout.write(f"deleted {count} expired job(s)")
