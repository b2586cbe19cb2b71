"""A client that stops reading a stream is disconnected after TTS_STREAM_SEND_TIMEOUT, its
generation cancelled and counted as abandoned, not generated; while it is only behind, its
generation waits for it instead of buffering the whole audio. A real socket that reads the
reply's first bytes and then nothing."""

from __future__ import annotations

import socket
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.support.audio import REF_TEXT
from tests.support.server import LOOPBACK, LiveServer

pytestmark = pytest.mark.e2e
#: About five minutes of speech: far more audio than the socket buffers hold.
LONG_TEXT = " ".join(f"Sentence number {n} of a long chapter, read to nobody at all."
                     for n in range(70))


def metric(server: LiveServer, name: str, **labels) -> float:
    text = requests.get(f"{server.url}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0


def without_access_lines(log: str) -> str:
    return "\n".join(line for line in log.splitlines() if "uvicorn.access" not in line)[-6000:]


def stalled_request(server: LiveServer, ref_bytes: bytes, request_id: str) -> socket.socket:
    """Send a streamed generate on a raw socket with a small receive window."""
    prepared = requests.Request("POST", f"{server.url}/api/tts/generate/", data={
        "ref_text": REF_TEXT, "gen_text": LONG_TEXT, "nfe_step": 8, "seed": 3,
        "stream": "true"}, files={"ref_audio": ("voice.wav", ref_bytes, "audio/wav")},
        headers={"Accept": "audio/wav", "X-Request-ID": request_id}).prepare()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((LOOPBACK, server.port))
    head = ["POST /api/tts/generate/ HTTP/1.1", f"Host: {LOOPBACK}:{server.port}",
            *(f"{name}: {value}" for name, value in prepared.headers.items())]
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + prepared.body)
    return sock


def test_a_client_that_stops_reading_is_disconnected_and_its_generation_cancelled(
        tiny_dir, ref_bytes):
    server = LiveServer(tiny_dir / "models.toml",
                        extra_env={"TTS_STREAM_SEND_TIMEOUT": "2"}).start()
    sock = None
    try:
        generated = metric(server, "tts_generations_total", model="tiny-f5")
        sock = stalled_request(server, ref_bytes, "stalled-1")
        assert sock.recv(512).startswith(b"HTTP/1.1 200")  # then it reads nothing more
        pattern = "[stalled-1] generation cancelled (the client stopped reading) after"
        deadline = time.monotonic() + 120
        while pattern not in server.log_text():
            assert time.monotonic() < deadline, server.log_tail()
            time.sleep(0.2)
        line = next(line for line in server.log_text().splitlines() if pattern in line)
        done, total = line.split(" after ")[1].split(" chunks")[0].split(" of ")
        assert int(done) < int(total)  # it waited for the reader, then stopped
        assert "accepted no data for 2 s (TTS_STREAM_SEND_TIMEOUT)" in server.log_text()
        sock.settimeout(30)  # the server closed the connection: what is left, then the end
        while sock.recv(1 << 16):
            pass
        # Counted when the stream's worker thread ends: nothing is left holding its audio.
        deadline = time.monotonic() + 30
        while metric(server, "tts_streams_abandoned_total", reason="stalled") != 1:
            assert time.monotonic() < deadline, without_access_lines(server.log_text())
            time.sleep(0.2)
        assert metric(server, "tts_generations_total", model="tiny-f5") == generated
        health = requests.get(f"{server.url}/api/tts/health/", timeout=10).json()
        assert health["queue_depth"] == 0
    finally:
        if sock is not None:
            sock.close()
        server.stop()
