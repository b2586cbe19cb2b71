"""Periodic tasks run: every entry of Celery beat's schedule names a registered task, and the
purge of expired jobs runs from a real `celery beat`, through a real Redis, on a real worker."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.services import redis_database

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]

EXPIRED_JOB = """
import uuid
from datetime import timedelta
from django.utils import timezone
from tts.models import Job
Job.objects.create(id=uuid.uuid4(), request_hash="-", model="tiny-f5", gen_text="Old.",
                   status="succeeded", finished_at=timezone.now() - timedelta(days=2))
"""


def test_every_beat_entry_names_a_registered_task(settings):
    from tts.celery_app import app

    app.loader.import_default_modules()
    registered = set(app.tasks)
    entries = settings.CELERY_BEAT_SCHEDULE
    assert entries and {entry["task"] for entry in entries.values()} <= registered, (
        sorted(entry["task"] for entry in entries.values()), sorted(registered))


def test_beat_purges_expired_jobs_on_a_worker(tiny_dir, tmp_path):
    database = tmp_path / "db.sqlite3"
    with redis_database() as broker:
        env = {**os.environ, "CELERY_BROKER_URL": broker, "TTS_EXECUTION": "celery",
               "DATABASE_URL": f"sqlite:///{database}", "TTS_VAR_DIR": str(tmp_path / "var"),
               "TTS_MODELS_FILE": str(tiny_dir / "models.toml"), "TTS_PRELOAD": "",
               "TTS_DEFAULT_MODEL": "tiny-f5", "TTS_VOCODER_PATH": str(tiny_dir / "vocos"),
               "TTS_JOB_RETENTION_HOURS": "1", "TTS_JOB_PURGE_SECONDS": "1",
               "HF_HUB_OFFLINE": "1"}
        for command in ("migrate --noinput", f"shell -c '{EXPIRED_JOB}'"):
            subprocess.run(f"{sys.executable} manage.py {command}", shell=True, cwd=ROOT,
                           env=env, check=True, capture_output=True, timeout=120)
        assert count_jobs(database) == 1
        logs = tmp_path / "celery.log"
        with logs.open("wb") as log:
            processes = [subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "config", *args], cwd=ROOT, env=env,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True) for args in (
                    ["worker", "--concurrency", "1", "--without-mingle", "--without-gossip",
                     "--loglevel", "INFO"],
                    ["beat", "--schedule", str(tmp_path / "beat-schedule")])]
        try:
            deadline = time.monotonic() + 120
            while count_jobs(database) and time.monotonic() < deadline:
                time.sleep(0.5)
            assert count_jobs(database) == 0, logs.read_text(errors="replace")[-3000:]
            assert "tts.purge_jobs" in logs.read_text(errors="replace")
        finally:
            for process in processes:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
            for process in processes:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)


def count_jobs(database: Path) -> int:
    with contextlib.closing(sqlite3.connect(database, timeout=10)) as db:
        return db.execute("SELECT count(*) FROM tts_job").fetchone()[0]
