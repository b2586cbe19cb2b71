"""Bodies sent with ``Transfer-Encoding: chunked`` (no Content-Length) are read, not taken for
empty ones (issue 11: they were answered "gen_text is required")."""

from __future__ import annotations

import base64
import http.client
import json
import socket

import pytest
import requests

from tests.support.audio import REF_TEXT

pytestmark = pytest.mark.e2e


def chunked(body: bytes, size: int) -> bytes:
    """``body`` in HTTP/1.1 chunked framing, ``size`` bytes a chunk."""
    pieces = [body[start:start + size] for start in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"


def read_reply(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    reply = b""
    while chunk := sock.recv(65536):
        reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in
               (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


def test_a_chunked_multipart_upload_over_a_raw_socket(tts_server, ref_bytes):
    prepared = requests.Request("POST", f"{tts_server.url}/api/tts/generate/", data={
        "ref_text": REF_TEXT, "gen_text": "Sent in chunks.", "nfe_step": 4},
        files={"ref_audio": ("voice.wav", ref_bytes, "audio/wav")}).prepare()
    head = ("POST /api/tts/generate/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            f"Content-Type: {prepared.headers['Content-Type']}\r\n"
            "Transfer-Encoding: chunked\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", tts_server.port), timeout=120) as sock:
        sock.sendall(head)
        framed = chunked(prepared.body, 7919)  # the clip spans many chunks
        for start in range(0, len(framed), 50_000):  # in several segments, as a client streams
            sock.sendall(framed[start:start + 50_000])
        status, headers, body = read_reply(sock)
    assert "content-length" not in head.decode().lower()
    assert status == 200, body[:500]
    reply = json.loads(body)
    assert reply["duration"] > 0 and reply["ref_text"] == REF_TEXT
    assert headers["x-request-id"]


def test_a_chunked_json_body_with_http_client(tts_server, ref_bytes):
    body = json.dumps({"ref_audio": base64.b64encode(ref_bytes).decode("ascii"),
                       "ref_text": REF_TEXT, "gen_text": "Chunked JSON.", "nfe_step": 4,
                       "output_format": "flac"}).encode()
    connection = http.client.HTTPConnection("127.0.0.1", tts_server.port, timeout=120)
    try:
        connection.request("POST", "/api/tts/generate/?response=audio",
                           body=iter([body[:1000], body[1000:20_000], body[20_000:]]),
                           headers={"Content-Type": "application/json",
                                    "Transfer-Encoding": "chunked"}, encode_chunked=True)
        reply = connection.getresponse()
        audio = reply.read()
    finally:
        connection.close()
    assert reply.status == 200, audio[:500]
    assert reply.getheader("Content-Type") == "audio/flac" and audio.startswith(b"fLaC")
    assert float(reply.getheader("X-Duration")) > 0


def test_an_empty_chunked_body_is_a_missing_field(tts_server):
    with socket.create_connection(("127.0.0.1", tts_server.port), timeout=30) as sock:
        sock.sendall(b"POST /api/tts/generate/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Connection: close\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        status, _, body = read_reply(sock)
    assert status == 400
    assert "gen_text" in {error["attr"] for error in json.loads(body)["errors"]}
