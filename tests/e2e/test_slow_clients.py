"""Slow and stalled clients cannot take the server down: connections that trickle or stall
cost no threads and are closed at their deadlines; slow readers of streams hold no device."""

from __future__ import annotations

import contextlib
import json
import socket
import time

import pytest
import requests

from tests.support.audio import REF_TEXT
from tests.support.server import LiveServer

pytestmark = pytest.mark.e2e

STALLED = 25  # of each kind: partial headers, partial bodies
SLOW_READERS = 20


@pytest.fixture(scope="module")
def guarded_server(tiny_dir):
    server = LiveServer(tiny_dir / "models.toml", extra_env={
        "TTS_HEADER_TIMEOUT": "3", "TTS_BODY_TIMEOUT": "3", "TTS_MAX_QUEUE": "40"}).start()
    yield server
    server.stop()


def connect(server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a reader that reads nothing
    return sock


def stream_request(server, ref_bytes) -> bytes:
    prepared = requests.Request("POST", f"{server.url}/api/tts/generate/", data={
        "ref_text": REF_TEXT, "gen_text": "A slow reader asks for a long story. " * 12,
        "nfe_step": 4, "stream": "true"}, files={"ref_audio": ("v.wav", ref_bytes)},
        headers={"Accept": "audio/wav"}).prepare()
    head = "POST /api/tts/generate/ HTTP/1.1\r\nHost: 127.0.0.1\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in prepared.headers.items()) + "\r\n"
    return head.encode() + prepared.body


def closed_by_server(sock: socket.socket, within: float) -> bool:
    """True when the server ends the connection (after any error reply) within the time."""
    sock.settimeout(within)
    try:
        while sock.recv(65536):
            pass
        return True
    except TimeoutError:
        return False
    except OSError:  # reset by the server: closed too
        return True


def test_stalled_connections_and_slow_readers_do_not_starve_the_server(guarded_server,
                                                                       ref_bytes):
    server = guarded_server
    partial_headers, partial_bodies, readers = [], [], []
    try:
        for _ in range(STALLED):
            sock = connect(server)
            sock.sendall(b"POST /api/tts/generate/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")
            partial_headers.append(sock)
            sock = connect(server)
            sock.sendall(b"POST /api/tts/generate/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         b"Content-Type: multipart/form-data; boundary=x\r\n"
                         b"Content-Length: 100000\r\n\r\n--x\r\n")
            partial_bodies.append(sock)
        request = stream_request(server, ref_bytes)
        for _ in range(SLOW_READERS):
            sock = connect(server)
            sock.sendall(request)
            readers.append(sock)

        health = requests.get(f"{server.url}/api/tts/health/", timeout=10)
        assert health.status_code == 200
        reply = requests.post(f"{server.url}/api/tts/generate/", timeout=120, data={
            "ref_text": REF_TEXT, "gen_text": "Still serving.", "nfe_step": 4},
            files={"ref_audio": ("voice.wav", ref_bytes)})
        assert reply.status_code == 200, reply.text

        # The slow readers' generations finished although nobody read them: no queue held.
        deadline = time.monotonic() + 120
        while requests.get(f"{server.url}/api/tts/health/", timeout=10).json()["queue_depth"]:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        # The stalled ones are closed at their deadlines (3 s here).
        assert all(closed_by_server(sock, 15) for sock in partial_headers)
        assert all(closed_by_server(sock, 15) for sock in partial_bodies)
        assert not server.server_errors()
    finally:
        for sock in partial_headers + partial_bodies + readers:
            with contextlib.suppress(OSError):
                sock.close()


def reply_to(server, request: bytes) -> bytes:
    """Send raw bytes; everything the server answers until it closes the connection."""
    sock = connect(server)
    sock.sendall(request)
    sock.settimeout(15)
    reply = b""
    with contextlib.suppress(OSError):
        while piece := sock.recv(65536):
            reply += piece
    sock.close()
    return reply


def test_a_stalled_body_gets_a_408_in_the_error_shape(guarded_server):
    reply = reply_to(guarded_server, b"POST /api/tts/generate/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"gen")
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408")
    assert b'"code": "request_timeout"' in body and b"TTS_BODY_TIMEOUT" in body


def test_an_oversized_body_is_refused_before_it_is_read(guarded_server):
    reply = reply_to(guarded_server, b"POST /api/tts/generate/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 900000000\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 413") and b"TTS_MAX_UPLOAD_MB" in reply


def test_under_v1_the_guards_answer_in_openais_error_shape(guarded_server):
    reply = reply_to(guarded_server, b"POST /v1/audio/speech HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 900000000\r\n\r\n")
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    error = json.loads(body)["error"]
    assert error["type"] == "invalid_request_error" and error["code"] == "request_too_large"
    assert "TTS_MAX_UPLOAD_MB" in error["message"]


def test_malformed_requests_get_json_errors(guarded_server):
    reply = reply_to(guarded_server,
                     b"GET /api/tts/health/ HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 400") and b"malformed_request" in reply
