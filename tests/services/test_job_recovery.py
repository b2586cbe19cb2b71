"""Jobs survive their workers: a claim is atomic, a job whose heartbeat went quiet is put back
in the queue once however many sweepers race, a run that was taken over changes nothing, and
a callback is delivered once, retried with backoff and given up after TTS_CALLBACK_ATTEMPTS.
On SQLite here, and on PostgreSQL by scripts/test_postgres.sh."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connection
from django.utils import timezone

from tts.execution import LocalExecutor, executor, use_executor
from tts.models import Job
from tts.work.jobs.callbacks import backoff_seconds, deliver_due, due_callbacks
from tts.work.jobs.run import JobRunningElsewhere, claim, finish
from tts.work.jobs.sweep import requeue_stale

pytestmark = pytest.mark.django_db(transaction=True)  # the racing threads see committed rows


@pytest.fixture(autouse=True)
def patient_sqlite(settings):
    """Threads that race for a row wait for each other's short writes, as a server's do."""
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        saved = database["OPTIONS"]["timeout"]
        database["OPTIONS"]["timeout"] = 30
        yield
        database["OPTIONS"]["timeout"] = saved
    else:
        yield


@pytest.fixture(autouse=True)
def alone():
    """No job runner of this process competes with the test's own claimants and sweepers."""
    current = executor()
    if isinstance(current, LocalExecutor):
        current.stop()
    yield
    use_executor(None)


def make_job(**fields) -> Job:
    return Job.objects.create(**{"id": uuid.uuid4(), "request_hash": "-", "model": "tiny-f5",
                                 "gen_text": "Hello.", "options": {"seed": 1}, **fields})


def race(work, count: int = 4) -> list:
    """Run ``work`` in ``count`` threads released at the same moment; their results."""
    start = threading.Barrier(count)
    results: list = [None] * count

    def run(slot: int) -> None:
        start.wait()
        try:
            results[slot] = work()
        except Exception as exc:  # noqa: BLE001 - the caller looks at what each one got
            results[slot] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(slot,)) for slot in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def quiet_since(seconds: float):
    return timezone.now() - timedelta(seconds=seconds)


def test_racing_sweepers_requeue_a_quiet_job_once(settings):
    settings.TTS_JOB_HEARTBEAT_SECONDS = 1.0
    quiet = make_job(status=Job.Status.RUNNING, attempts=1, heartbeat_at=quiet_since(10),
                     worker="lost:1")
    alive = make_job(status=Job.Status.RUNNING, attempts=1, heartbeat_at=timezone.now())
    results = race(requeue_stale)
    requeued = [job.id for found in results for job in found]
    assert requeued == [quiet.id]  # once, by one sweeper; the live one left alone
    quiet.refresh_from_db()
    alive.refresh_from_db()
    assert (quiet.status, alive.status) == (Job.Status.QUEUED, Job.Status.RUNNING)


def test_racing_claimants_run_a_job_once(settings):
    settings.TTS_JOB_HEARTBEAT_SECONDS = 1.0
    job = make_job()
    results = race(lambda: claim(str(job.id)))
    claimed = [result for result in results if isinstance(result, Job)]
    assert len(claimed) == 1 and claimed[0].attempts == 1
    assert all(isinstance(result, JobRunningElsewhere) for result in results
               if result is not claimed[0])


def test_a_quiet_job_is_taken_over_within_three_heartbeats(settings):
    settings.TTS_JOB_HEARTBEAT_SECONDS = 1.0
    job = make_job(status=Job.Status.RUNNING, attempts=1, heartbeat_at=quiet_since(2))
    with pytest.raises(JobRunningElsewhere):  # 2 beats quiet: its worker may be alive
        claim(str(job.id))
    assert requeue_stale() == []
    Job.objects.filter(id=job.id).update(heartbeat_at=quiet_since(3.5))
    assert [found.id for found in requeue_stale()] == [job.id]
    assert claim(str(job.id)).attempts == 2


def test_a_run_that_was_taken_over_changes_nothing(settings):
    settings.TTS_JOB_HEARTBEAT_SECONDS = 1.0
    job = make_job()
    first = claim(str(job.id))
    Job.objects.filter(id=job.id).update(heartbeat_at=quiet_since(10))  # its worker hangs
    requeue_stale()
    second = claim(str(job.id))
    assert (first.attempts, second.attempts) == (1, 2)
    assert finish(first, Job.Status.FAILED) is None  # the first wakes up: its end is dropped
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING and job.attempts == 2
    assert finish(second, Job.Status.SUCCEEDED).status == Job.Status.SUCCEEDED


def test_a_job_beats_while_its_model_loads(settings, ref_bytes):
    """From the claim on: a worker that loads the model first (a fresh pool process after a
    crash) is alive, and sweepers running all along take nothing over."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from tests.support.audio import REF_TEXT
    from tts.work.jobs.run import job_run

    settings.TTS_JOB_HEARTBEAT_SECONDS = 0.2  # taken for dead after 0.6 s of silence
    stored = default_storage.save("jobs/beat/reference.wav", ContentFile(ref_bytes))
    job = make_job(model="tiny-e2", ref_audio=stored, ref_text=REF_TEXT,
                   options={"seed": 1, "nfe_step": 4})  # not loaded yet: it loads first
    done = threading.Event()

    def sweep_all_along() -> None:
        try:
            while not done.is_set():
                requeue_stale()
                done.wait(0.02)
        finally:
            connection.close()

    sweeper = threading.Thread(target=sweep_all_along)
    sweeper.start()
    try:
        finished = job_run(job_id=str(job.id))
    finally:
        done.set()
        sweeper.join(30)
    assert finished is not None and finished.status == Job.Status.SUCCEEDED
    assert finished.attempts == 1


class Receiver(BaseHTTPRequestHandler):
    answers: list[int] = []
    received: list[str] = []

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(self.headers["X-TTS-Attempt"])
        self.send_response(type(self).answers.pop(0) if type(self).answers else 200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver(settings):
    settings.TTS_CALLBACK_ALLOW_PRIVATE = True  # the receiver is on the loopback
    Receiver.answers, Receiver.received = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()


def finished_with_callback(url: str) -> Job:
    return make_job(status=Job.Status.SUCCEEDED, finished_at=timezone.now(), callback_url=url,
                    callback_due_at=timezone.now(), callback_status="pending")


def make_due(job: Job) -> None:
    Job.objects.filter(id=job.id).update(callback_due_at=timezone.now())


def test_a_failing_callback_is_retried_with_backoff_then_given_up(receiver, settings):
    settings.TTS_CALLBACK_ATTEMPTS = 3
    Receiver.answers = [500, 503, 502]
    job = finished_with_callback(receiver)
    assert deliver_due(str(job.id)) == backoff_seconds(1) == 1.0
    job.refresh_from_db()
    assert job.callback_status.startswith("retrying in 1 s: refused by receiver (attempt 1 of 3)")
    assert job.callback_due_at > timezone.now()
    assert deliver_due(str(job.id)) is None and Receiver.received == ["1"]  # not due yet
    make_due(job)
    assert deliver_due(str(job.id)) == 2.0
    make_due(job)
    assert deliver_due(str(job.id)) is None
    job.refresh_from_db()
    assert Receiver.received == ["1", "2", "3"]
    assert job.callback_status == "failed after 3 attempts: refused by receiver"
    assert job.callback_due_at is None and due_callbacks() == []
    assert [backoff_seconds(n) for n in (1, 2, 3, 11, 30)] == [1, 2, 4, 600, 600]  # capped


def test_racing_deliverers_post_a_callback_once(receiver):
    job = finished_with_callback(receiver)
    assert due_callbacks() == [str(job.id)]
    race(lambda: deliver_due(str(job.id)))
    job.refresh_from_db()
    assert Receiver.received == ["1"]
    assert job.callback_status == "delivered (attempt 1)"
    assert job.callback_due_at is None and due_callbacks() == []
