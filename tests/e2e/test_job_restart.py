"""Inline mode loses no job and no callback: a server killed in the middle of a job runs it
again, from the start and with the same seed, when it comes back; a callback still pending
when the server stops is delivered after its restart."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from tests.support.audio import REF_TEXT
from tests.support.server import LiveServer, free_port

pytestmark = pytest.mark.e2e
TEXT = " ".join(f"Sentence number {n} of a chapter that takes a while." for n in range(8))


def test_a_job_cut_off_by_a_crash_is_finished_after_the_restart(tiny_dir, tmp_path, ref_wav):
    server = LiveServer(tiny_dir / "models.toml", extra_env={
        "MEDIA_ROOT": str(tmp_path / "media"), "TTS_JOB_HEARTBEAT_SECONDS": "0.5",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}).start()
    try:
        with ref_wav.open("rb") as clip:
            job = requests.post(f"{server.url}/api/tts/jobs/", files={"ref_audio": clip},
                                data={"ref_text": REF_TEXT, "gen_text": TEXT, "nfe_step": 8,
                                      "seed": 5}, timeout=60).json()
        seen = poll(server, job["id"], until=lambda j: j["progress"]["chunks_done"] >= 1)
        assert seen["status"] == "running", "the job finished before the crash"
        os.killpg(server.process.pid, signal.SIGKILL)  # no shutdown, no cleanup
        server.process.wait(timeout=30)
    finally:
        server.stop()

    server.start()  # the same database and media folder, a new process
    try:
        final = poll(server, job["id"], until=lambda j: j["status"] in ("succeeded", "failed"))
        assert final["status"] == "succeeded", final
        assert final["attempts"] == 2 and final["seed"] == 5
        # Why it waited: said at the start, before the takeover.
        said = server.log_text()
        assert f"job {job['id']} is running on " in said and "taken over in" in said
        assert final["progress"]["chunks_done"] == final["progress"]["chunks_total"]
        audio = requests.get(f"{server.url}/api/tts/jobs/{job['id']}/audio/", timeout=30)
        with ref_wav.open("rb") as clip:
            generated = requests.post(
                f"{server.url}/api/tts/generate/", files={"ref_audio": clip},
                data={"ref_text": REF_TEXT, "gen_text": TEXT, "nfe_step": 8, "seed": 5},
                headers={"Accept": "audio/wav"}, timeout=300)
        assert audio.content == generated.content  # whole, nothing lost or doubled
    finally:
        server.stop()


def poll(server: LiveServer, job_id: str, *, until, timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = requests.get(f"{server.url}/api/tts/jobs/{job_id}/", timeout=10).json()
        if until(body):
            return body
        time.sleep(0.05)
    raise AssertionError(f"job {job_id}: {body}\n{server.log_tail()}")


class Receiver(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append({"attempt": self.headers["X-TTS-Attempt"],
                                    "job": json.loads(body)})
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_callback_pending_at_a_restart_is_delivered_after_it(tiny_dir, tmp_path, ref_wav):
    """The receiver is down while the job finishes; the server goes down too before the
    receiver comes back. The delivery lives in the job's row, so the restarted server makes
    it."""
    port = free_port()
    server = LiveServer(tiny_dir / "models.toml", extra_env={
        "MEDIA_ROOT": str(tmp_path / "media"), "TTS_CALLBACK_ALLOW_PRIVATE": "1",
        "TTS_CALLBACK_ATTEMPTS": "30", "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"})
    server.start()
    try:
        with ref_wav.open("rb") as clip:
            job = requests.post(f"{server.url}/api/tts/jobs/", files={"ref_audio": clip},
                                data={"ref_text": REF_TEXT, "gen_text": "Call me back.",
                                      "nfe_step": 4, "seed": 5,
                                      "callback_url": f"http://127.0.0.1:{port}/hook"},
                                timeout=60).json()
        pending = poll(server, job["id"], until=lambda j: (j["callback_status"] or "")
                       .startswith("retrying"))
        assert pending["status"] == "succeeded" and "attempt 1 of 30" in pending[
            "callback_status"], pending
    finally:
        server.stop()  # the delivery is still pending

    Receiver.received = []
    receiver = ThreadingHTTPServer(("127.0.0.1", port), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    server.start()
    try:
        final = poll(server, job["id"], timeout=60,
                     until=lambda j: (j["callback_status"] or "").startswith("delivered"))
    finally:
        server.stop()
        receiver.shutdown()
    assert len(Receiver.received) == 1, Receiver.received
    delivery = Receiver.received[0]
    assert delivery["job"]["id"] == job["id"] and delivery["job"]["status"] == "succeeded"
    assert int(delivery["attempt"]) >= 2 and final["callback_status"] == (
        f"delivered (attempt {delivery['attempt']})")
