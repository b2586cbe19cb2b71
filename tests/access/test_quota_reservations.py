"""The daily audio quota holds under concurrency: each admitted request reserves its
estimated seconds atomically; 20 parallel submissions against a quota for 3 admit 3; a
cancelled job gives its reservation back."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from tests.support.helpers import error_of
from tts.access.models import AudioReservation
from tts.access.throttles import estimate_seconds
from tts.execution.local import LocalExecutor

pytestmark = pytest.mark.django_db(transaction=True)  # each thread commits on its own
JOBS = "/api/tts/jobs/"
TEXT = "Twelve bytes"  # 12 bytes: reserves 1 s


@pytest.fixture(autouse=True)
def patient_sqlite(settings):
    """Concurrent writers wait for the lock, as a server's do (tests/api/test_jobs.py)."""
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        saved = database["OPTIONS"]["timeout"]
        database["OPTIONS"]["timeout"] = 30
        yield
        database["OPTIONS"]["timeout"] = saved
    else:
        yield


@pytest.fixture
def jobs_stay_queued(monkeypatch):
    """No runner picks the jobs up, so the reservations stay held while the test looks (the
    model side is not what is tested here)."""
    monkeypatch.setattr(LocalExecutor, "run_job", lambda self, **kwargs: None)


def test_twenty_parallel_submissions_against_a_quota_for_three_admit_three(
        make_key, jobs_stay_queued, ref_wav):
    assert estimate_seconds(TEXT) == 1.0
    _, raw = make_key("racer", audio_seconds_per_day=3.5)
    body = {"gen_text": TEXT, "ref_text": "Reference words.", "nfe_step": 4}
    start = threading.Barrier(20)
    answers: list = []

    def one() -> None:
        client = APIClient()
        start.wait()
        try:
            with ref_wav.open("rb") as clip:
                answers.append(client.post(JOBS, {**body, "ref_audio": clip},
                                           format="multipart", HTTP_X_API_KEY=raw))
        finally:
            connection.close()

    threads = [threading.Thread(target=one) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    codes = sorted(answer.status_code for answer in answers)
    assert codes == [202] * 3 + [429] * 17, codes
    refused = next(answer for answer in answers if answer.status_code == 429)
    detail = error_of(refused)["detail"]
    assert error_of(refused)["code"] == "audio_quota_exceeded"
    assert "3.0 s held by requests in progress" in detail and "0.5 s left" in detail
    assert int(refused["Retry-After"]) >= 1
    assert AudioReservation.objects.count() == 3
    assert AudioReservation.objects.exclude(job_id="").count() == 3  # each held by its job

    # A cancelled job gives its seconds back: one more fits.
    client = APIClient()
    job_id = next(answer.json()["id"] for answer in answers if answer.status_code == 202)
    assert client.delete(f"{JOBS}{job_id}/", HTTP_X_API_KEY=raw).json()["status"] == (
        "cancelled")
    assert AudioReservation.objects.count() == 2
    with ref_wav.open("rb") as clip:
        again = client.post(JOBS, {**body, "ref_audio": clip}, format="multipart",
                            HTTP_X_API_KEY=raw)
    assert again.status_code == 202, again.content


def test_a_refused_or_failed_request_holds_nothing(client, make_key, jobs_stay_queued):
    _, raw = make_key("small", audio_seconds_per_day=3.5)
    too_long = client.post(JOBS, {"gen_text": "x" * 100, "nfe_step": 4}, format="json",
                           HTTP_X_API_KEY=raw)
    assert too_long.status_code == 429  # 8.3 s asked, 3.5 s allowed: refused at once
    invalid = client.post(JOBS, {"gen_text": TEXT, "nfe_step": 4}, format="json",
                          HTTP_X_API_KEY=raw)
    assert invalid.status_code == 400  # no voice and no clip: admitted, then refused
    assert not AudioReservation.objects.exists()


def test_a_keys_concurrent_jobs_are_capped_in_parallel_too(make_key, settings,
                                                           jobs_stay_queued, ref_wav):
    settings.TTS_JOBS_PER_KEY = 2
    _, raw = make_key("busy")
    start = threading.Barrier(8)
    codes: list[int] = []

    def one() -> None:
        start.wait()
        try:
            codes.append(APIClient().post(JOBS, {"gen_text": TEXT, "ref_text": "Words.",
                                                 "nfe_step": 4,
                                                 "ref_audio": ref_wav.open("rb")},
                                          format="multipart", HTTP_X_API_KEY=raw).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=one) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == [202, 202] + [429] * 6, codes
    client = APIClient()
    refused = client.post(JOBS, {"gen_text": TEXT, "ref_text": "Words.", "nfe_step": 4,
                                 "ref_audio": ref_wav.open("rb")}, format="multipart",
                          HTTP_X_API_KEY=raw)
    assert refused.status_code == 429 and error_of(refused)["code"] == "too_many_jobs"
    usage = client.get("/api/tts/usage/", HTTP_X_API_KEY=raw).json()
    assert (usage["jobs_active"], usage["jobs_limit"]) == (2, 2)
    # Another key has its own count.
    _, other = make_key("other")
    assert client.post(JOBS, {"gen_text": TEXT, "ref_text": "Words.", "nfe_step": 4,
                              "ref_audio": ref_wav.open("rb")}, format="multipart",
                       HTTP_X_API_KEY=other).status_code == 202


def test_parallel_voice_creations_keep_within_the_keys_voice_cap(make_key, settings, ref_wav,
                                                                  tmp_path):
    """The count cap holds when creations race (PostgreSQL too: scripts/test_postgres.sh):
    the check before preparing lets them all through, the check after saving keeps two."""
    from tests.support.audio import REF_TEXT
    from tts.models import Voice

    settings.MEDIA_ROOT = str(tmp_path / "race-media")
    settings.TTS_VOICES_PER_KEY = 2
    _, raw = make_key("collector")
    start = threading.Barrier(6)
    answers: list = []

    def one(number: int) -> None:
        start.wait()
        try:
            with ref_wav.open("rb") as clip:
                answers.append(APIClient().post("/api/tts/voices/", {
                    "id": f"voice-{number}", "name": f"Voice {number}", "ref_text": REF_TEXT,
                    "consent": "The speaker agreed.", "ref_audio": clip},
                    format="multipart", HTTP_X_API_KEY=raw))
        finally:
            connection.close()

    threads = [threading.Thread(target=one, args=(number,)) for number in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    codes = sorted(answer.status_code for answer in answers)
    assert codes == [201] * 2 + [403] * 4, [answer.content for answer in answers]
    assert {error_of(answer)["code"] for answer in answers if answer.status_code == 403} == {
        "voice_limit_reached"}
    kept = Voice.objects.all()
    assert kept.count() == 2
    files = {path.parent.name for path in (tmp_path / "race-media").rglob("*") if path.is_file()}
    assert files == set(kept.values_list("slug", flat=True))  # the refused left no files


def test_a_job_that_fails_releases_its_reservation(make_key, jobs_stay_queued, ref_wav):
    """The job's clip is lost before it runs (overwritten with bytes that are no audio): the
    real engine refuses it, the job fails, and its seconds are free again at once."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from tts.access.models import AuditEntry
    from tts.models import Job
    from tts.work.jobs.run import job_run

    _, raw = make_key("unlucky", audio_seconds_per_day=1.5)
    client = APIClient()
    with ref_wav.open("rb") as clip:
        answer = client.post(JOBS, {"gen_text": TEXT, "ref_text": "Reference words.",
                                    "nfe_step": 4, "ref_audio": clip},
                             format="multipart", HTTP_X_API_KEY=raw)
    assert answer.status_code == 202, answer.content
    job = Job.objects.get(id=answer.json()["id"])
    assert AudioReservation.objects.filter(job_id=str(job.id)).count() == 1
    with ref_wav.open("rb") as clip:  # the quota is held: a second one does not fit
        assert client.post(JOBS, {"gen_text": TEXT, "ref_text": "Reference words.",
                                  "nfe_step": 4, "ref_audio": clip}, format="multipart",
                           HTTP_X_API_KEY=raw).status_code == 429
    name = job.ref_audio.name
    default_storage.delete(name)
    default_storage.save(name, ContentFile(b"no audio at all" * 10))

    assert job_run(job_id=str(job.id)).status == Job.Status.FAILED
    assert not AudioReservation.objects.exists()
    assert not AuditEntry.objects.filter(audio_seconds__gt=0).exists()  # nothing counts
    with ref_wav.open("rb") as clip:
        again = client.post(JOBS, {"gen_text": TEXT, "ref_text": "Reference words.",
                                   "nfe_step": 4, "ref_audio": clip}, format="multipart",
                            HTTP_X_API_KEY=raw)
    assert again.status_code == 202, again.content
