"""Streamed replies made on a Celery worker and relayed by the web node (TTS_EXECUTION=celery:
real Redis, PostgreSQL, one worker process, real HTTP) are read back with their real length,
as inline ones are (tests/api/test_output_formats.py): FLAC carries its sample count, a
streamed WAV reads to the end of its data."""

from __future__ import annotations

import io
import subprocess
import time

import pytest
import requests
import soundfile as sf

from tests.support.audio import REF_TEXT
from tests.support.server import LiveServer
from tests.support.services import postgres_database, redis_database
from tts.engine.audio import ffmpeg_binary

RATE = 24_000
TEXT = "Made on a worker. Relayed by the web node, piece after piece."


@pytest.fixture(scope="module")
def relay_server(tiny_dir, ref_wav):
    with redis_database() as broker, postgres_database() as database:
        server = LiveServer(tiny_dir / "models.toml", workers=1, extra_env={
            "CELERY_BROKER_URL": broker, "DATABASE_URL": database,
            "TTS_PRECISION": "float32", "TTS_WORKER_WAIT_SECONDS": "60"})
        try:
            server.start()
            wait_for_a_ready_worker(server)
            with ref_wav.open("rb") as clip:
                voice = requests.post(server.url + "/api/tts/voices/",
                                      files={"ref_audio": clip},
                                      data={"id": "relayed", "name": "Relayed",
                                            "ref_text": REF_TEXT, "consent": "Test."},
                                      timeout=180)
            assert voice.status_code == 201, voice.text + server.worker_logs()[-3000:]
            yield server
        finally:
            server.stop()


def wait_for_a_ready_worker(server: LiveServer, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        workers = requests.get(server.url + "/api/tts/health/", timeout=10).json()["workers"]
        if any(worker["ready"] for worker in workers):
            return
        time.sleep(0.5)
    raise AssertionError(f"no worker ready:\n{server.worker_logs()[-3000:]}")


def generate(server: LiveServer, fmt: str) -> requests.Response:
    return requests.post(server.url + "/api/tts/generate/", json={
        "voice": "relayed", "gen_text": TEXT, "nfe_step": 4, "seed": 7, "stream": True,
        "output_format": fmt}, timeout=180)


def v1(server: LiveServer, fmt: str) -> requests.Response:
    return requests.post(server.url + "/v1/audio/speech", json={
        "model": "tts-1", "voice": "relayed", "input": TEXT, "nfe_step": 4, "seed": 7,
        "response_format": fmt}, timeout=180)


def ffmpeg_frames(data: bytes) -> int:
    done = subprocess.run([ffmpeg_binary(), "-nostdin", "-hide_banner", "-loglevel", "error",
                           "-i", "pipe:0", "-f", "s16le", "-ac", "1", "-ar", str(RATE),
                           "pipe:1"], input=data, capture_output=True, timeout=60, check=True)
    return len(done.stdout) // 2


@pytest.mark.parametrize("call", [generate, v1], ids=["generate", "v1"])
def test_relayed_flac_and_wav_are_read_with_their_real_length(relay_server, call):
    pcm = call(relay_server, "pcm")
    assert pcm.status_code == 200, pcm.text
    expected = len(pcm.content) // 2
    assert expected > RATE // 2

    flac = call(relay_server, "flac")
    assert flac.status_code == 200 and flac.headers["Content-Type"] == "audio/flac"
    info = sf.info(io.BytesIO(flac.content))
    assert (info.frames, info.samplerate) == (expected, RATE)  # the header has the length
    assert len(sf.read(io.BytesIO(flac.content))[0]) == expected
    assert ffmpeg_frames(flac.content) == expected

    wav = call(relay_server, "wav")
    assert wav.status_code == 200
    assert len(sf.read(io.BytesIO(wav.content))[0]) == expected
    assert ffmpeg_frames(wav.content) == expected
