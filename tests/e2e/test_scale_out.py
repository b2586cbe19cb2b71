"""TTS_EXECUTION=celery end to end: a real web server (no model in it), two real Celery
worker processes, a real Redis and a real PostgreSQL, driven by real HTTP clients."""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import psycopg
import pytest
import requests
import soundfile as sf
from prometheus_client.parser import text_string_to_metric_families

from tests.support.audio import REF_TEXT
from tests.support.server import ROOT, LiveServer
from tests.support.services import postgres_database, redis_database
from tts.engine.audio import ffmpeg_binary

JOBS = "/api/tts/jobs/"
LONG_TEXT = " ".join(f"Sentence number {n} of a chapter that takes a while." for n in range(12))
RATE = 24_000
TEXT = "Made on a worker. Relayed by the web node, piece after piece."


@pytest.fixture(scope="module")
def cluster(tiny_dir):
    with redis_database() as broker, postgres_database() as database:
        server = LiveServer(tiny_dir / "models.toml", workers=2, extra_env={
            "CELERY_BROKER_URL": broker, "DATABASE_URL": database,
            "TTS_PRECISION": "float32", "TTS_JOB_HEARTBEAT_SECONDS": "1",
            "TTS_WORKER_WAIT_SECONDS": "60", "TTS_CALLBACK_ALLOW_PRIVATE": "1",
            # a quota far above what these tests make: requests reserve and settle
            "TTS_AUDIO_SECONDS_PER_DAY": "1000000"})
        server.database_url = database
        try:
            server.start()
            wait_until_workers_ready(server, 2)
            yield server
        finally:
            server.stop()


def wait_until_workers_ready(cluster, count: int, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        workers = requests.get(cluster.url + "/api/tts/health/", timeout=10).json()["workers"]
        if len(workers) == count and all(worker["ready"] for worker in workers):
            return
        time.sleep(0.5)
    raise AssertionError(f"{count} workers not ready: {workers}\n{cluster.worker_logs()}")


def post_form(cluster, path: str, ref_wav: Path, **fields):
    data = {"ref_text": REF_TEXT, "gen_text": "Hello from a worker.", "nfe_step": 4,
            "seed": 3, **fields}
    headers = data.pop("headers", {})
    with ref_wav.open("rb") as clip:
        return requests.post(cluster.url + path, files={"ref_audio": clip}, data=data,
                             headers=headers, timeout=120)


def wait_for_job(cluster, job_id: str, states=("succeeded", "failed", "cancelled"),
                 timeout: float = 180.0, until=None) -> tuple[dict, list[dict]]:
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = requests.get(f"{cluster.url}{JOBS}{job_id}/", timeout=10).json()
        seen.append(body)
        if body["status"] in states or (until is not None and until(body)):
            return body, seen
        time.sleep(0.05)
    raise AssertionError(f"job {job_id}: {seen[-1]}\n{cluster.worker_logs()[-3000:]}")


def job_row(cluster, job_id: str) -> dict:
    with psycopg.connect(cluster.database_url) as db:
        worker, attempts = db.execute("SELECT worker, attempts FROM tts_job WHERE id = %s",
                                      (job_id,)).fetchone()
    return {"worker": worker, "attempts": attempts}


def maps_of(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


def admin_key(cluster) -> str:
    """An admin key: health names the workers (their host and pid) to admins only."""
    return api_key(cluster, "ops", "--admin")


def api_key(cluster, name: str, *flags: str) -> str:
    created = subprocess.run([sys.executable, "manage.py", "apikeys", "create", *flags,
                              name], cwd=ROOT, env=cluster.env(), capture_output=True,
                             text=True, timeout=120, check=True)
    return created.stdout.strip().splitlines()[-1]


def test_the_web_process_holds_no_model_while_the_workers_do(cluster):
    health = requests.get(cluster.url + "/api/tts/health/", timeout=10, headers={
        "Authorization": f"Bearer {admin_key(cluster)}"}).json()
    assert health["execution_mode"] == "celery"
    assert len(health["workers"]) == 2 and all(w["ready"] for w in health["workers"])
    assert health["loaded_models"] == ["tiny-f5"] and health["device"] == "cpu"
    assert "libtorch" not in maps_of(cluster.process.pid)  # torch never imported
    worker = health["workers"][0]["name"].rpartition(":")[2]
    assert "libtorch" in maps_of(int(worker))  # the check can see torch where it is
    models = requests.get(cluster.url + "/api/tts/models/", timeout=10).json()
    assert {m["id"]: m["status"] for m in models}["tiny-f5"] == "loaded"


def test_generate_on_a_worker_gives_the_samples_of_inline_mode(cluster, ref_wav, ref_bytes):
    from tts.engine import audio
    from tts.work.speech import generate_here

    reply = post_form(cluster, "/api/tts/generate/", ref_wav, headers={"Accept": "audio/wav"})
    assert reply.status_code == 200, reply.text
    assert reply.headers["X-Seed"] == "3"
    inline = generate_here(ref_audio=ref_bytes, ref_text=REF_TEXT,
                           gen_text="Hello from a worker.",
                           options={"nfe_step": 4, "seed": 3}, output_format="wav")
    assert reply.content == inline.audio
    assert len(audio.decode(reply.content)) > 0

    whole = post_form(cluster, "/api/tts/generate/", ref_wav).json()  # JSON with metadata
    assert whole["seed"] == 3 and whole["model"] == "tiny-f5" and whole["timing"]
    assert "libtorch" not in maps_of(cluster.process.pid)


def test_streams_are_relayed_from_the_worker_as_they_are_made(cluster, ref_wav):
    text = "First part of the stream. Second part comes next. And a third one."
    with ref_wav.open("rb") as clip:
        stream = requests.post(cluster.url + "/api/tts/generate/", files={"ref_audio": clip},
                               data={"ref_text": REF_TEXT, "gen_text": text, "nfe_step": 4,
                                     "seed": 3, "stream": "true", "output_format": "pcm"},
                               stream=True, timeout=120)
        assert stream.status_code == 200 and stream.headers["X-Seed"] == "3"
        pieces = [piece for piece in stream.iter_content(chunk_size=None)]
    assert len(pieces) >= 2

    with ref_wav.open("rb") as clip:
        events = requests.post(cluster.url + "/api/tts/generate/", files={"ref_audio": clip},
                               data={"ref_text": REF_TEXT, "gen_text": text, "nfe_step": 4,
                                     "seed": 3}, headers={"Accept": "text/event-stream"},
                               timeout=120).text
    names = [line.removeprefix("event: ") for line in events.splitlines()
             if line.startswith("event: ")]
    data = [json.loads(line.removeprefix("data: ")) for line in events.splitlines()
            if line.startswith("data: ")]
    assert names[-1] == "done" and names.count("chunk") >= 2
    assert data[-1]["seed"] == 3 and data[-1]["chunks"] == names.count("chunk")
    # the same generation, relayed as events or as a file: the same samples
    assert b"".join(base64.b64decode(event["audio"]) for event in data[:-1]) == b"".join(pieces)


def test_a_stream_relayed_from_a_worker_settles_its_reservation_with_the_real_duration(
        cluster, ref_wav):
    """In celery mode the audio is made on a worker and relayed by the web node: when the
    stream ends, its audit row holds the real seconds and its reservation is gone."""
    text = "A stream that is counted. Its real length settles what it reserved."
    with psycopg.connect(cluster.database_url) as db:
        last = db.execute("SELECT coalesce(max(id), 0) FROM access_auditentry").fetchone()[0]
    with ref_wav.open("rb") as clip:
        stream = requests.post(cluster.url + "/api/tts/generate/", files={"ref_audio": clip},
                               data={"ref_text": REF_TEXT, "gen_text": text, "nfe_step": 4,
                                     "seed": 5, "stream": "true", "output_format": "pcm"},
                               stream=True, timeout=120)
        assert stream.status_code == 200
        pcm = b"".join(stream.iter_content(chunk_size=None))
    made = len(pcm) / 2 / RATE
    deadline = time.monotonic() + 60  # the row is completed as the stream closes
    while True:
        with psycopg.connect(cluster.database_url) as db:
            rows = db.execute("SELECT audio_seconds FROM access_auditentry WHERE id > %s AND "
                              "action = 'generate'", [last]).fetchall()
            held = db.execute("SELECT count(*) FROM access_audioreservation").fetchone()[0]
        if rows and rows[0][0] > 0 and held == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(rows) == 1 and abs(rows[0][0] - made) < 0.05, (rows, made)
    assert held == 0


def test_errors_on_the_worker_are_the_same_replies_as_inline(cluster, ref_wav, audio_dir):
    silent = audio_dir / "silent-scale-out.wav"
    sf.write(silent, np.zeros(24000 * 3, dtype=np.float32), 24000)
    reply = post_form(cluster, "/api/tts/generate/", silent)
    assert reply.status_code == 400, reply.text
    assert reply.json()["errors"][0]["attr"] == "ref_audio"
    unknown = post_form(cluster, "/api/tts/generate/", ref_wav, model="nope")
    assert unknown.status_code == 404 and unknown.json()["errors"][0]["code"] == "model_not_found"


def test_voices_and_the_openai_api_work_through_the_workers(cluster, ref_wav):
    with ref_wav.open("rb") as clip:
        voice = requests.post(cluster.url + "/api/tts/voices/", files={"ref_audio": clip},
                              data={"id": "worker-voice", "name": "Worker voice",
                                    "ref_text": REF_TEXT, "consent": "Test recording."},
                              timeout=120)
    assert voice.status_code == 201, voice.text
    speech = requests.post(cluster.url + "/v1/audio/speech", json={
        "model": "tts-1", "voice": "worker-voice", "input": "Spoken by a worker.",
        "response_format": "wav"}, timeout=120)
    assert speech.status_code == 200, speech.text
    samples, rate = sf.read(io.BytesIO(speech.content))
    assert rate == 24000 and len(samples) > 0

    script = requests.post(cluster.url + "/v1/audio/speech", json={
        "model": "tts-1", "voice": "worker-voice", "response_format": "pcm",
        "stream_format": "sse", "input": "Spoken by a worker. [worker-voice] And again."},
        timeout=120)  # a multi-voice script, streamed part after part through the relay
    events = [json.loads(line.removeprefix("data: ")) for line in script.text.split("\n\n")
              if line]
    assert events[-1]["type"] == "speech.audio.done" and len(events) >= 3
    pcm = b"".join(base64.b64decode(event["audio"]) for event in events[:-1])
    assert len(pcm) / 2 / 24000 == pytest.approx(events[-1]["duration"], abs=2e-3)


def test_two_keys_narrators_are_each_their_own_on_the_workers(cluster, ref_wav):
    """Voice ids are unique per key: two keys each save ``narrator`` (prepared on a worker),
    and generate, a [tag] script, a stream and a job run on the workers each use the voice of
    the key that asked (told apart by its transcript)."""
    texts = {"a": REF_TEXT, "b": "The second key's narrator reads this transcript."}
    keys = {}
    for name, text in texts.items():
        keys[name] = {"Authorization": f"Bearer {api_key(cluster, f'tenant-{name}')}"}
        with ref_wav.open("rb") as clip:
            voice = requests.post(cluster.url + "/api/tts/voices/", files={"ref_audio": clip},
                                  data={"id": "narrator", "name": "Narrator", "ref_text": text,
                                        "consent": "Test recording."},
                                  headers=keys[name], timeout=180)
        assert voice.status_code == 201, voice.text
    for name, text in texts.items():
        for body in ({"voice": "narrator", "gen_text": "Whose voice is this?"},
                     {"gen_text": "[narrator] Tagged on a worker."}):
            spoken = requests.post(cluster.url + "/api/tts/generate/", json={
                **body, "nfe_step": 4, "seed": 3}, headers=keys[name], timeout=180)
            assert spoken.status_code == 200, spoken.text
            assert spoken.json()["ref_text"] == text
        streamed = requests.post(cluster.url + "/api/tts/generate/", json={
            "voice": "narrator", "gen_text": "Streamed.", "nfe_step": 4, "stream": True},
            headers=keys[name], timeout=180)
        assert streamed.status_code == 200 and streamed.content
        job = requests.post(cluster.url + JOBS, json={
            "voice": "narrator", "gen_text": "A job on a worker.", "nfe_step": 4},
            headers=keys[name], timeout=60)
        assert job.status_code == 202, job.text
        deadline = time.monotonic() + 180
        while (view := requests.get(f"{cluster.url}{JOBS}{job.json()['id']}/",
                                    headers=keys[name], timeout=10).json())["status"] in (
                "queued", "running") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert view["status"] == "succeeded", view
        assert view["output"]["ref_text"] == text


def test_a_job_runs_on_a_worker_with_rising_progress(cluster, ref_wav):
    text = " ".join(f"This is sentence number {n} of a job on a worker." for n in range(8))
    reply = post_form(cluster, JOBS, ref_wav, gen_text=text)
    assert reply.status_code == 202, reply.text
    final, seen = wait_for_job(cluster, reply.json()["id"])
    assert final["status"] == "succeeded", final
    done = [view["progress"]["chunks_done"] for view in seen]
    assert done == sorted(done) and done[-1] == final["progress"]["chunks_total"] >= 2
    audio = requests.get(f"{cluster.url}{JOBS}{final['id']}/audio/", timeout=30)
    generated = post_form(cluster, "/api/tts/generate/", ref_wav, gen_text=text,
                          headers={"Accept": "audio/wav"})
    assert audio.content == generated.content  # same request, same seed, same samples


@pytest.fixture(scope="module")
def relayed_voice(cluster, ref_wav):
    """The cluster, with a saved voice that the format tests speak with."""
    with ref_wav.open("rb") as clip:
        voice = requests.post(cluster.url + "/api/tts/voices/", files={"ref_audio": clip},
                              data={"id": "relayed", "name": "Relayed", "ref_text": REF_TEXT,
                                    "consent": "Test."}, timeout=180)
    assert voice.status_code == 201, voice.text + cluster.worker_logs()[-3000:]
    return cluster


def generate_relayed(server, fmt: str) -> requests.Response:
    return requests.post(server.url + "/api/tts/generate/", json={
        "voice": "relayed", "gen_text": TEXT, "nfe_step": 4, "seed": 7, "stream": True,
        "output_format": fmt}, timeout=180)


def v1(server, fmt: str) -> requests.Response:
    return requests.post(server.url + "/v1/audio/speech", json={
        "model": "tts-1", "voice": "relayed", "input": TEXT, "nfe_step": 4, "seed": 7,
        "response_format": fmt}, timeout=180)


def ffmpeg_frames(data: bytes) -> int:
    done = subprocess.run([ffmpeg_binary(), "-nostdin", "-hide_banner", "-loglevel", "error",
                           "-i", "pipe:0", "-f", "s16le", "-ac", "1", "-ar", str(RATE),
                           "pipe:1"], input=data, capture_output=True, timeout=60, check=True)
    return len(done.stdout) // 2


@pytest.mark.parametrize("call", [generate_relayed, v1], ids=["generate", "v1"])
def test_relayed_flac_and_wav_are_read_with_their_real_length(relayed_voice, call):
    """Streamed replies relayed from a worker are read back with their real length, as inline
    ones are (tests/api/test_output_formats.py): FLAC carries its sample count, a streamed WAV
    reads to the end of its data."""
    pcm = call(relayed_voice, "pcm")
    assert pcm.status_code == 200, pcm.text
    expected = len(pcm.content) // 2
    assert expected > RATE // 2

    flac = call(relayed_voice, "flac")
    assert flac.status_code == 200 and flac.headers["Content-Type"] == "audio/flac"
    info = sf.info(io.BytesIO(flac.content))
    assert (info.frames, info.samplerate) == (expected, RATE)  # the header has the length
    assert len(sf.read(io.BytesIO(flac.content))[0]) == expected
    assert ffmpeg_frames(flac.content) == expected

    wav = call(relayed_voice, "wav")
    assert wav.status_code == 200
    assert len(sf.read(io.BytesIO(wav.content))[0]) == expected
    assert ffmpeg_frames(wav.content) == expected


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    text = requests.get(url, timeout=10).text
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def test_workers_serve_their_own_metrics_and_the_web_tier_counts_jobs(cluster, ref_wav):
    finished = ("tts_jobs_finished_total", (("model", "tiny-f5"), ("status", "succeeded")))
    urls = [f"http://127.0.0.1:{port}/metrics" for port in cluster.worker_metrics_ports]
    before = sum(scrape(url).get(finished, 0.0) for url in urls)
    job_id = post_form(cluster, JOBS, ref_wav, gen_text="Counted by a worker.").json()["id"]
    assert wait_for_job(cluster, job_id)[0]["status"] == "succeeded"
    workers = [scrape(url) for url in urls]
    assert sum(worker.get(finished, 0.0) for worker in workers) == before + 1
    assert all(worker[("tts_loaded_models", (("model", "tiny-f5"),))] == 1
               and ("tts_jobs", (("status", "succeeded"),)) not in worker  # the web's to say
               for worker in workers)
    web = scrape(cluster.url + "/metrics")
    assert web[("tts_jobs", (("status", "succeeded"),))] >= 1
    assert ("tts_jobs_finished_total", finished[1]) not in web  # counted where it ran


class FlakyReceiver(BaseHTTPRequestHandler):
    """Answers its first delivery with a 500, the next with a 204."""

    received: list[str] = []

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(self.headers["X-TTS-Attempt"])
        self.send_response(500 if len(type(self).received) == 1 else 204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_job_callback_is_a_celery_task_retried_until_delivered(cluster, ref_wav):
    FlakyReceiver.received = []
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), FlakyReceiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{receiver.server_port}/hook"
        job_id = post_form(cluster, JOBS, ref_wav, gen_text="Call me back.",
                           callback_url=url).json()["id"]
        final, _ = wait_for_job(cluster, job_id, states=(), until=lambda job: (
            job["callback_status"] or "").startswith("delivered"))
    finally:
        receiver.shutdown()
    assert FlakyReceiver.received == ["1", "2"]
    assert final["callback_status"] == "delivered (attempt 2)"
    assert "tts.deliver_callback" in cluster.worker_logs()


def test_a_job_whose_worker_is_killed_is_finished_by_another(cluster, ref_wav):
    reply = post_form(cluster, JOBS, ref_wav, gen_text=LONG_TEXT, nfe_step=16, seed=11)
    job_id = reply.json()["id"]
    running, _ = wait_for_job(cluster, job_id,
                              until=lambda job: job["progress"]["chunks_done"] >= 1)
    assert running["status"] == "running", "the job finished before it could be interrupted"
    victim = int(job_row(cluster, job_id)["worker"].rpartition(":")[2])
    os.kill(victim, signal.SIGKILL)

    final, _ = wait_for_job(cluster, job_id, timeout=300)
    assert final["status"] == "succeeded", final
    row = job_row(cluster, job_id)
    assert row["attempts"] == 2 and int(row["worker"].rpartition(":")[2]) != victim
    assert final["progress"]["chunks_done"] == final["progress"]["chunks_total"]

    assert_audio_of_an_uninterrupted_run(cluster, ref_wav, job_id, seed=11)


def test_cancelling_a_running_job_frees_its_worker_at_once(cluster, ref_wav):
    job_id = post_form(cluster, JOBS, ref_wav, gen_text=LONG_TEXT, nfe_step=32).json()["id"]
    wait_for_job(cluster, job_id, until=lambda job: job["progress"]["chunks_done"] >= 1)
    cancel = requests.delete(f"{cluster.url}{JOBS}{job_id}/", timeout=10)
    assert cancel.status_code == 202
    final, _ = wait_for_job(cluster, job_id, timeout=30)
    assert final["status"] == "cancelled"
    assert final["progress"]["chunks_done"] < final["progress"]["chunks_total"]

    quick = [post_form(cluster, JOBS, ref_wav, gen_text=f"Quick job {n}.").json()["id"]
             for n in range(2)]
    for job in quick:
        assert wait_for_job(cluster, job, timeout=60)[0]["status"] == "succeeded"
    assert "libtorch" not in maps_of(cluster.process.pid)
    assert not cluster.server_errors(), json.dumps(cluster.server_errors())


def test_a_job_whose_whole_worker_is_lost_is_taken_over_by_the_heartbeat(cluster, ref_wav):
    """SIGKILL the whole process group of the worker running a job (a lost machine, an OOM
    kill of its main process): no Celery process is left to hand the task back, Redis would
    only after its visibility timeout (an hour), so the job's quiet heartbeat is what the
    other worker's sweep sees. Last in this module: one worker is left afterwards."""
    reply = post_form(cluster, JOBS, ref_wav, gen_text=LONG_TEXT, nfe_step=16, seed=23)
    job_id = reply.json()["id"]
    running, _ = wait_for_job(cluster, job_id,
                              until=lambda job: job["progress"]["chunks_done"] >= 1)
    assert running["status"] == "running", "the job finished before it could be interrupted"
    victim = int(job_row(cluster, job_id)["worker"].rpartition(":")[2])
    group = os.getpgid(victim)
    os.killpg(group, signal.SIGKILL)
    lost = time.monotonic()

    final, seen = wait_for_job(cluster, job_id, timeout=60)
    assert final["status"] == "succeeded", final
    assert time.monotonic() - lost < 60
    row = job_row(cluster, job_id)
    assert row["attempts"] == 2 and os.getpgid(int(row["worker"].rpartition(":")[2])) != group
    # run once at a time: progress went back to the start once, then rose to the end
    done = [view["progress"]["chunks_done"] for view in seen]
    restarts = sum(1 for before, after in zip(done, done[1:], strict=False) if after < before)
    assert restarts <= 1 and done[-1] == final["progress"]["chunks_total"]

    assert_audio_of_an_uninterrupted_run(cluster, ref_wav, job_id, seed=23)


def assert_audio_of_an_uninterrupted_run(cluster, ref_wav, job_id: str, *, seed: int) -> None:
    """The interrupted job's audio is the same bytes as the same job run without a break:
    nothing lost or doubled."""
    again = post_form(cluster, JOBS, ref_wav, gen_text=LONG_TEXT, nfe_step=16, seed=seed).json()
    assert wait_for_job(cluster, again["id"], timeout=300)[0]["status"] == "succeeded"
    first = requests.get(f"{cluster.url}{JOBS}{job_id}/audio/", timeout=30).content
    second = requests.get(f"{cluster.url}{JOBS}{again['id']}/audio/", timeout=30).content
    assert first == second
