"""Jobs in inline mode: the in-process runner, the real tiny models, a real callback receiver."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import socket
import threading
import time
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
import soundfile as sf
from django.core.files.storage import default_storage
from django.utils import timezone

from tests.support.audio import REF_TEXT
from tests.support.helpers import GENERATE, device_held, error_of
from tts.models import Job

JOBS = "/api/tts/jobs/"
#: Several sentences: several chunks with the tiny models' short budget.
LONG_TEXT = " ".join(f"This is sentence number {n} of a long chapter." for n in range(1, 9))

pytestmark = pytest.mark.django_db(transaction=True)  # the runner thread reads committed rows


@pytest.fixture(autouse=True)
def patient_sqlite():
    """No test transaction holds the lock here: the runner's threads wait for each other's
    short writes as a server's do."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    if not database["ENGINE"].endswith("sqlite3"):
        yield
        return
    saved = database["OPTIONS"]["timeout"]
    database["OPTIONS"]["timeout"] = 30
    yield
    database["OPTIONS"]["timeout"] = saved


def submit(client, form, **fields):
    return client.post(JOBS, form(**fields), format="multipart", **fields.pop("headers", {}))


def wait_for(client, job_id: str, states=("succeeded", "failed", "cancelled"),
             timeout: float = 120.0) -> tuple[dict, list[dict]]:
    """Poll the job until it is in one of ``states``; its last view and every view seen."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"{JOBS}{job_id}/").json()
        seen.append(body)
        if body["status"] in states:
            return body, seen
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {seen[-1]['status']} after {timeout} s")


def test_a_job_runs_to_success_with_rising_progress_and_the_samples_of_generate(client, form):
    reply = client.post(JOBS, form(gen_text=LONG_TEXT, seed=7), format="multipart")
    assert reply.status_code == 202, reply.content
    job = reply.json()
    assert reply["Location"] == f"/api/tts/jobs/{job['id']}/"
    assert job["status"] in ("queued", "running") and job["seed"] == 7

    final, seen = wait_for(client, job["id"])
    assert final["status"] == "succeeded", final
    done = [view["progress"]["chunks_done"] for view in seen]
    assert done == sorted(done), "progress went backwards"
    total = final["progress"]["chunks_total"]
    assert total >= 2 and final["progress"]["chunks_done"] == total
    assert final["progress"]["fraction"] == 1.0
    assert final["output"]["seed"] == 7 and final["output"]["chunks"] == total
    assert final["finished_at"] and final["expires_at"]

    audio = client.get(f"{JOBS}{job['id']}/audio/", {"output_format": "wav"})
    assert audio.status_code == 200 and audio["Content-Type"] == "audio/wav"
    generated = client.post(GENERATE, form(gen_text=LONG_TEXT, seed=7), format="multipart",
                            HTTP_ACCEPT="audio/wav")
    assert generated.status_code == 200
    assert audio.content == generated.content  # same request, same seed: the same file

    mp3 = client.get(f"{JOBS}{job['id']}/audio/", HTTP_ACCEPT="audio/mpeg")
    assert mp3.status_code == 200 and mp3["Content-Type"] == "audio/mpeg"
    samples, rate = sf.read(io.BytesIO(audio.content))
    assert rate == final["output"]["sample_rate"]
    assert abs(len(samples) / rate - final["output"]["duration"]) < 0.01


def test_the_job_list_shows_recent_jobs_newest_first_and_filters_by_status(client, form):
    ids = [client.post(JOBS, form(gen_text=f"Job number {n}."), format="multipart").json()["id"]
           for n in range(2)]
    for job_id in ids:
        wait_for(client, job_id)
    listed = client.get(JOBS).json()
    assert listed["count"] == 2 and [job["id"] for job in listed["results"]] == ids[::-1]
    assert client.get(JOBS, {"status": "queued"}).json()["count"] == 0
    assert error_of(client.get(JOBS, {"limit": 0}))["attr"] == "limit"


def test_an_idempotency_key_returns_the_same_job_and_refuses_another_request(client, form):
    first = client.post(JOBS, form(gen_text="Once only."), format="multipart",
                        HTTP_IDEMPOTENCY_KEY="order-42")
    again = client.post(JOBS, form(gen_text="Once only."), format="multipart",
                        HTTP_IDEMPOTENCY_KEY="order-42")
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"] and again["Idempotent-Replayed"] == "true"
    assert Job.objects.count() == 1

    other = client.post(JOBS, form(gen_text="Something else."), format="multipart",
                        HTTP_IDEMPOTENCY_KEY="order-42")
    assert other.status_code == 409 and error_of(other)["code"] == "idempotency_key_reused"
    wait_for(client, first.json()["id"])


def test_cancelling_a_running_job_stops_it_and_the_runner_takes_the_next_at_once(client, form):
    from tts.work.runtime import get_engine

    engine = get_engine()
    with device_held(engine):  # the job is admitted, then waits for its first turn
        job = client.post(JOBS, form(gen_text=LONG_TEXT), format="multipart").json()
        wait_for(client, job["id"], states=("running",))
        deadline = time.monotonic() + 120  # planned (its chunks counted): waiting for its turn
        while client.get(f"{JOBS}{job['id']}/").json()["progress"]["chunks_total"] is None:
            assert time.monotonic() < deadline, "the job was never planned"
            time.sleep(0.05)
        cancel = client.delete(f"{JOBS}{job['id']}/")
        assert cancel.status_code == 202 and cancel.json()["cancel_requested"] is True
    final, _ = wait_for(client, job["id"])
    assert final["status"] == "cancelled"
    assert final["progress"]["chunks_done"] < final["progress"]["chunks_total"]
    assert client.get(f"{JOBS}{job['id']}/audio/").status_code == 409
    again = client.delete(f"{JOBS}{job['id']}/")
    assert again.status_code == 409 and error_of(again)["code"] == "job_finished"

    following = client.post(JOBS, form(gen_text="Next, please."), format="multipart").json()
    assert wait_for(client, following["id"], timeout=60)[0]["status"] == "succeeded"


@pytest.mark.parametrize(("fields", "status", "attr", "code"), [
    ({"model": "no-such-model"}, 404, None, "model_not_found"),
    ({"voice": "nobody", "ref_audio": None, "ref_text": None}, 404, None, "voice_not_found"),
    ({"gen_text": "[narrator] A script."}, 400, "gen_text", "unknown_voice"),
    ({"gen_text": "[main speed=9] A script."}, 400, "gen_text", "invalid_script_speed"),
    ({"callback_url": "ftp://example.org/x"}, 400, "callback_url", "invalid"),
    ({"stream": "true"}, 400, "stream", "unknown_field"),
])
def test_submissions_that_cannot_run_are_refused_at_once(client, form, fields, status, attr,
                                                         code):
    reply = client.post(JOBS, form(**fields), format="multipart")
    assert reply.status_code == status, reply.content
    error = error_of(reply)
    assert error["code"] == code and (attr is None or error["attr"] == attr)
    assert Job.objects.count() == 0


def test_a_bad_clip_is_refused_at_submission_not_after_queueing(client, form, audio_dir):
    silent = audio_dir / "silence.wav"
    sf.write(silent, np.zeros(24000 * 3, dtype=np.float32), 24000)
    reply = client.post(JOBS, form(ref_audio=silent.open("rb")), format="multipart")
    assert reply.status_code == 400 and error_of(reply)["attr"] == "ref_audio"
    assert Job.objects.count() == 0


def test_the_job_text_limit_is_its_own(client, form, settings):
    settings.TTS_MAX_TEXT_CHARS = 20
    settings.TTS_MAX_JOB_CHARS = 60
    assert client.post(JOBS, form(gen_text="x" * 50), format="multipart").status_code == 202
    reply = client.post(JOBS, form(gen_text="x" * 61), format="multipart")
    assert reply.status_code == 400 and "TTS_MAX_JOB_CHARS" in error_of(reply)["detail"]


def test_unknown_and_unfinished_jobs_answer_404_and_409(client, form):
    assert error_of(client.get(f"{JOBS}nope/"))["code"] == "job_not_found"
    assert client.get(f"{JOBS}00000000-0000-0000-0000-000000000000/").status_code == 404
    from tts.work.runtime import get_engine

    with device_held(get_engine()):
        job = client.post(JOBS, form(), format="multipart").json()
        reply = client.get(f"{JOBS}{job['id']}/audio/")
        assert reply.status_code == 409 and error_of(reply)["code"] == "job_not_succeeded"
    wait_for(client, job["id"])
    bad = client.get(f"{JOBS}{job['id']}/audio/", {"output_format": "midi"})
    assert bad.status_code == 400 and error_of(bad)["attr"] == "output_format"


def test_a_saved_voice_can_run_a_job(client, ref_wav):
    voice = client.post("/api/tts/voices/", {
        "id": "reader", "name": "Reader", "ref_audio": ref_wav.open("rb"),
        "ref_text": REF_TEXT, "consent": "Recorded for the tests."}, format="multipart")
    assert voice.status_code == 201, voice.content
    job = client.post(JOBS, {"voice": "reader", "gen_text": "Read this.", "nfe_step": 4},
                      format="json").json()
    final, _ = wait_for(client, job["id"])
    assert final["status"] == "succeeded" and final["voice"] == "reader"


def test_a_multi_voice_script_runs_as_a_job_with_the_samples_of_generate(client, form,
                                                                          ref_wav):
    voice = client.post("/api/tts/voices/", {
        "id": "narrator", "name": "Narrator", "ref_audio": ref_wav.open("rb"),
        "ref_text": REF_TEXT, "consent": "Recorded for the tests."}, format="multipart")
    assert voice.status_code == 201, voice.content
    script = ("[narrator speed=1.2] Chapter one. It was a cold morning in the valley. "
              "[main] Who is there, she asked. [narrator] Nobody answered her.")
    job = client.post(JOBS, form(gen_text=script, seed=5), format="multipart").json()
    final, seen = wait_for(client, job["id"])
    assert final["status"] == "succeeded", final
    done = [view["progress"]["chunks_done"] for view in seen]
    assert done == sorted(done), "progress went backwards"
    total = final["progress"]["chunks_total"]
    assert total >= 3 and final["progress"]["chunks_done"] == total == final["output"]["chunks"]
    segments = final["output"]["segments"]
    assert [segment["voice"] for segment in segments] == ["narrator", None, "narrator"]
    assert segments[-1]["end"] == final["output"]["duration"]

    audio = client.get(f"{JOBS}{job['id']}/audio/", {"output_format": "wav"})
    generated = client.post(GENERATE, form(gen_text=script, seed=5), format="multipart")
    assert generated.status_code == 200, generated.content
    assert generated.json()["segments"] == segments
    assert audio.content == client.post(GENERATE, form(gen_text=script, seed=5),
                                        format="multipart", HTTP_ACCEPT="audio/wav").content


def test_a_script_with_words_for_the_own_voice_needs_a_reference(client, ref_wav):
    client.post("/api/tts/voices/", {
        "id": "narrator", "name": "Narrator", "ref_audio": ref_wav.open("rb"),
        "ref_text": REF_TEXT, "consent": "Recorded for the tests."}, format="multipart")
    reply = client.post(JOBS, {"gen_text": "[narrator] Hello. [main] Hi.", "nfe_step": 4},
                        format="json")
    assert reply.status_code == 400 and error_of(reply)["attr"] == "ref_audio"
    assert Job.objects.count() == 0


def test_expired_jobs_are_deleted_with_their_files(client, form):
    from django.core.management import call_command

    job = client.post(JOBS, form(), format="multipart").json()
    wait_for(client, job["id"])
    row = Job.objects.get(id=job["id"])
    files = [row.result.name, row.ref_audio.name]
    assert all(default_storage.exists(name) for name in files)
    call_command("purge_jobs")
    assert Job.objects.filter(id=job["id"]).exists()  # not expired yet

    Job.objects.filter(id=job["id"]).update(finished_at=timezone.now() - timedelta(hours=25))
    out = io.StringIO()
    call_command("purge_jobs", stdout=out)
    assert "1" in out.getvalue()
    assert not Job.objects.filter(id=job["id"]).exists()
    assert not any(default_storage.exists(name) for name in files)


class Receiver(BaseHTTPRequestHandler):
    """Answers 500 to the first delivery, 200 to the next; keeps what it got."""

    deliveries: list[tuple[dict, bytes]] = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).deliveries.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(500 if len(type(self).deliveries) == 1 else 200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_the_finished_job_is_posted_signed_to_its_callback_and_retried(client, form, settings):
    settings.TTS_CALLBACK_SECRET = "s3cret"
    settings.TTS_CALLBACK_ALLOW_PRIVATE = True  # the receiver is on the loopback
    Receiver.deliveries = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/hook"
        job = client.post(JOBS, form(callback_url=url), format="multipart").json()
        wait_for(client, job["id"])
        deadline = time.monotonic() + 30
        while len(Receiver.deliveries) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        server.shutdown()
    assert len(Receiver.deliveries) == 2
    headers, body = Receiver.deliveries[1]
    assert headers["x-tts-attempt"] == "2"
    stamp, _, digest = headers["x-tts-signature"].partition(",v1=")
    timestamp = stamp.removeprefix("t=")
    expected = hmac.new(b"s3cret", f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(digest, expected)
    document = json.loads(body)
    assert document["id"] == job["id"] and document["status"] == "succeeded"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status = client.get(f"{JOBS}{job['id']}/").json()["callback_status"]
        if status:
            break
        time.sleep(0.05)
    assert status.startswith("delivered")


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:9/hook", "http://10.1.2.3/hook", "http://[::1]/hook",
    "http://169.254.169.254/latest/meta-data", "http://localhost:8000/",
    "https://[::ffff:192.168.0.1]/hook"])
def test_callbacks_to_internal_addresses_are_refused_at_submission(client, form, settings, url):
    reply = client.post(JOBS, form(callback_url=url), format="multipart")
    assert reply.status_code == 400
    error = error_of(reply)
    assert (error["attr"], error["code"]) == ("callback_url", "callback_not_allowed")
    assert "TTS_CALLBACK_ALLOW_PRIVATE" in error["detail"] and Job.objects.count() == 0


def test_a_callback_name_that_resolves_inside_is_not_posted_to_and_redirects_are_not_followed(
        settings, monkeypatch):
    from tts.work.jobs.callbacks import attempt_delivery

    Receiver.deliveries = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for host in ("localhost", "127.0.0.1"):  # a name, and an address, checked at delivery
            url = f"http://{host}:{server.server_port}/hook"
            delivered, why = attempt_delivery(url, {"id": "job"})
            assert (delivered, why) == (None, "address not allowed")  # refused
        assert Receiver.deliveries == []

        settings.TTS_CALLBACK_ALLOW_PRIVATE = True
        Receiver.deliveries = [({}, b"")]  # the next answer is a 200
        assert attempt_delivery(f"http://localhost:{server.server_port}/hook",
                                {"id": "job"})[0] is True
        assert Receiver.deliveries[-1][0]["host"] == f"localhost:{server.server_port}"

        # A name with several addresses: the first that answers is used (none listens on
        # 127.0.0.2), and the request still names the host.
        real_getaddrinfo = socket.getaddrinfo

        def getaddrinfo(host, *args, **kwargs):
            if host != "hooks.test":
                return real_getaddrinfo(host, *args, **kwargs)
            return [info for address in ("127.0.0.2", "127.0.0.1")
                    for info in real_getaddrinfo(address, *args, **kwargs)]

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
        assert attempt_delivery(f"http://hooks.test:{server.server_port}/hook",
                                {"id": "job"})[0] is True
        assert Receiver.deliveries[-1][0]["host"] == f"hooks.test:{server.server_port}"
    finally:
        server.shutdown()

    class Redirector(Receiver):
        def do_POST(self):  # noqa: N802
            type(self).deliveries.append(({}, b""))
            self.send_response(307)
            self.send_header("Location", "http://169.254.169.254/")
            self.end_headers()

    Redirector.deliveries = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        delivered, outcome = attempt_delivery(f"http://127.0.0.1:{server.server_port}/",
                                              {"id": "job"})
    finally:
        server.shutdown()
    assert len(Redirector.deliveries) == 1
    assert (delivered, outcome) == (False, "refused by receiver")


def test_a_job_counts_against_its_keys_audio_quota(client, form):
    from tts.access.models import AuditEntry

    job = client.post(JOBS, form(), format="multipart").json()
    final, _ = wait_for(client, job["id"])
    entry = AuditEntry.objects.get(action="job")
    assert entry.outcome == "succeeded"
    assert entry.audio_seconds == pytest.approx(final["output"]["duration"], abs=0.01)
    assert AuditEntry.objects.filter(action="job_submit", status=202).exists()


def test_jobs_show_in_the_metrics(client, form):
    from prometheus_client.parser import text_string_to_metric_families

    def scrape() -> dict:
        text = client.get("/metrics").content.decode()
        return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
                for family in text_string_to_metric_families(text) for sample in family.samples}

    before = scrape()
    job = client.post(JOBS, form(), format="multipart").json()
    assert wait_for(client, job["id"])[0]["status"] == "succeeded"
    waiting = Job.objects.create(id=uuid.uuid4(), model="tiny-f5", gen_text="Waiting.",
                                 request_hash="x")  # queued, never dispatched
    Job.objects.filter(id=waiting.id).update(created_at=timezone.now() - timedelta(minutes=5))
    after = scrape()

    def moved(name, **labels):
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert after[("tts_jobs", (("status", "succeeded"),))] == 1
    assert after[("tts_jobs", (("status", "queued"),))] == 1
    assert after[("tts_jobs", (("status", "failed"),))] == 0
    assert 290 < after[("tts_job_oldest_queued_seconds", ())] < 600
    assert moved("tts_jobs_finished_total", model="tiny-f5", status="succeeded") == 1
    assert moved("tts_job_run_seconds_count", model="tiny-f5", status="succeeded") == 1
    assert moved("tts_job_wait_seconds_count", model="tiny-f5") == 1


def test_a_job_reads_its_text_through_the_front_end(client, form):
    """normalize, pronunciations and pauses as on generate; the output shows spoken_text."""
    job = submit(client, form, gen_text="Chapter 7 costs $3. [pause:250ms] The nginx end.",
                 pronunciations=json.dumps({"nginx": "engine x"})).json()
    done, _ = wait_for(client, job["id"])
    assert done["status"] == "succeeded", done
    assert done["output"]["spoken_text"] == ("Chapter seven costs three dollars. "
                                             "[pause:0.25s] The engine x end.")
    raw = submit(client, form, gen_text="Chapter 7.", normalize="off").json()
    assert wait_for(client, raw["id"])[0]["output"]["spoken_text"] == "Chapter 7."
    bad = submit(client, form, gen_text="Hi [pause:1h].")
    assert bad.status_code == 400 and error_of(bad)["attr"] == "gen_text"
