"""The disk of the database and the media fills while jobs run (inline mode, SQLite): the
server answers 507 and says so in readiness, and once space returns every job ends,
succeeded or failed with a clear error, none stranded queued or running. A real tmpfs."""

from __future__ import annotations

import time

import pytest
import requests

from tests.support.audio import REF_TEXT
from tests.support.disk import small_disk
from tests.support.server import LiveServer

pytestmark = pytest.mark.e2e
TEXT = " ".join(f"Sentence number {n} of a chapter that takes a while." for n in range(6))
FINISHED = ("succeeded", "failed", "cancelled")


def job_of(server: LiveServer, job_id: str) -> dict:
    return requests.get(f"{server.url}/api/tts/jobs/{job_id}/", timeout=30).json()


def test_jobs_running_while_the_disk_fills_all_end_once_space_returns(tiny_dir, tmp_path,
                                                                     ref_wav):
    with small_disk(tmp_path / "disk", megabytes=24) as disk:
        server = LiveServer(tiny_dir / "models.toml", extra_env={
            "MEDIA_ROOT": str(disk.path / "media"),
            "DATABASE_URL": f"sqlite:///{disk.path / 'db.sqlite3'}",
            "TTS_MIN_FREE_MB": "1", "TTS_JOB_HEARTBEAT_SECONDS": "0.5",
            "TTS_JOB_SWEEP_SECONDS": "1"}).start()
        try:
            ids = []
            for seed in range(3):
                with ref_wav.open("rb") as clip:
                    ids.append(requests.post(
                        f"{server.url}/api/tts/jobs/", files={"ref_audio": clip},
                        data={"ref_text": REF_TEXT, "gen_text": TEXT, "nfe_step": 8,
                              "seed": seed}, timeout=60).json()["id"])
            disk.fill()
            ready = requests.get(f"{server.url}/api/tts/health/ready/", timeout=30)
            assert ready.status_code == 503 and "TTS_MIN_FREE_MB" in ready.text
            with ref_wav.open("rb") as clip:
                refused = requests.post(f"{server.url}/api/tts/voices/", files={
                    "ref_audio": clip}, data={"name": "Full", "ref_text": REF_TEXT,
                                              "consent": "yes"}, timeout=60)
            assert refused.status_code == 507, refused.text
            assert refused.json()["errors"][0]["code"] == "insufficient_storage"
            time.sleep(5)  # the jobs meet the full disk
            disk.free()

            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                jobs = [job_of(server, job_id) for job_id in ids]
                if all(job["status"] in FINISHED for job in jobs):
                    break
                time.sleep(0.5)
            else:
                raise AssertionError(f"stranded: {jobs}\n{server.log_tail()}")
            # The disk filled while they waited or ran: at least one met it.
            assert any(job["status"] == "failed" or job["attempts"] > 1 for job in jobs), jobs
            for job in jobs:
                assert job["status"] in ("succeeded", "failed"), job
                if job["status"] == "failed":
                    assert job["error"]["errors"][0]["code"] == "insufficient_storage", job
            assert requests.get(f"{server.url}/api/tts/health/ready/",
                                timeout=30).status_code == 200
        finally:
            server.stop()
