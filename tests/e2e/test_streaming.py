"""Streaming from the live server: pieces as they are made, every format, SSE, hang-ups."""

from __future__ import annotations

import base64
import io
import json
import time

import numpy as np
import pytest
import requests
import soundfile as sf

from tests.support.audio import REF_TEXT
from tts.engine import audio

pytestmark = pytest.mark.e2e

STORY = " ".join(f"Sentence number {n} of the story is about a fox and an owl." for n in
                 range(1, 9))
HOP_SECONDS = 256 / 24000


def stream(server, ref_bytes, *, accept="audio/wav", timeout=120, headers=None, **fields):
    data = {"ref_text": REF_TEXT, "gen_text": STORY, "nfe_step": 8, "seed": 21,
            "stream": "true", **fields}
    return requests.post(f"{server.url}/api/tts/generate/", data=data, stream=True,
                         timeout=timeout, headers={"Accept": accept, **(headers or {})},
                         files={"ref_audio": ("voice.wav", ref_bytes, "audio/wav")})


def pcm_samples(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768


@pytest.fixture(scope="module")
def pcm_stream(tts_server, ref_bytes) -> bytes:
    """The default request streamed as raw samples: what every other form must match."""
    with stream(tts_server, ref_bytes, accept="audio/pcm") as reply:
        assert reply.status_code == 200
        return reply.content


def test_a_stream_comes_in_pieces_and_matches_the_whole_reply(tts_server, ref_bytes):
    with stream(tts_server, ref_bytes, cross_fade_duration=0) as reply:
        assert reply.status_code == 200
        assert reply.headers["Transfer-Encoding"] == "chunked"
        pieces = [piece for piece in reply.iter_content(chunk_size=None) if piece]
        chunks = int(reply.headers["X-Chunks"])
    assert len(pieces) >= 3 and chunks >= 3
    samples, rate = sf.read(io.BytesIO(b"".join(pieces)), dtype="float32")
    whole = requests.post(f"{tts_server.url}/api/tts/generate/", timeout=120, data={
        "ref_text": REF_TEXT, "gen_text": STORY, "nfe_step": 8, "seed": 21,
        "cross_fade_duration": 0}, files={"ref_audio": ("voice.wav", ref_bytes)}).json()
    assert rate == whole["sample_rate"] == 24000
    # The stream cuts its first chunk short. Without cross-fades, what tells the durations
    # apart is rounding (a mel frame per chunk) and the space dropped at each extra cut (upstream
    # gives every byte of text the reference's seconds per byte, about 0.06 s here).
    extra_cuts = chunks - whole["chunks"]
    assert len(samples) / rate == pytest.approx(
        whole["duration"], abs=(chunks + whole["chunks"]) * HOP_SECONDS + 0.1 * extra_cuts)


@pytest.mark.parametrize("fmt, content_type", [
    ("wav", "audio/wav"), ("pcm", "audio/pcm"), ("mp3", "audio/mpeg"), ("ogg", "audio/ogg"),
    ("aac", "audio/aac"), ("flac", "audio/flac")])
def test_every_streaming_format_is_a_valid_file_once_complete(tts_server, ref_bytes, fmt,
                                                              content_type, pcm_stream):
    with stream(tts_server, ref_bytes, accept="audio/*", output_format=fmt) as reply:
        assert reply.status_code == 200 and reply.headers["Content-Type"] == content_type
        data = reply.content
    expected = len(pcm_samples(pcm_stream)) / 24000
    if fmt == "wav":
        assert data[44:] == pcm_stream  # the same samples behind a streaming header
    decoded = pcm_samples(data) if fmt == "pcm" else audio.decode(data)
    assert len(decoded) / audio.SAMPLE_RATE == pytest.approx(expected, abs=0.1)


def test_server_sent_events_concatenate_to_the_streamed_samples(tts_server, ref_bytes,
                                                               pcm_stream):
    with stream(tts_server, ref_bytes, accept="text/event-stream") as reply:
        assert reply.headers["Content-Type"].startswith("text/event-stream")
        events = []
        for line in reply.iter_lines(decode_unicode=True):
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[6:])))
    chunks = [data for name, data in events if name == "chunk"]
    assert events[-1][0] == "done" and len(chunks) == events[-1][1]["chunks"] >= 3
    assert b"".join(base64.b64decode(c["audio"]) for c in chunks) == pcm_stream
    assert events[-1][1]["seed"] == 21


def test_hanging_up_stops_the_generation_and_frees_the_device(tts_server, ref_bytes):
    with stream(tts_server, ref_bytes, nfe_step=64,
                headers={"X-Request-ID": "hang-up-test-1"}) as reply:
        first = next(reply.iter_content(chunk_size=None))
        assert first.startswith(b"RIFF")
    # The connection is closed: the server stops at the next chunk boundary and says so.
    deadline = time.monotonic() + 60
    pattern = "[hang-up-test-1] generation cancelled (the client disconnected) after"
    while pattern not in tts_server.log_text():
        assert time.monotonic() < deadline, tts_server.log_tail()
        time.sleep(0.1)
    line = next(line for line in tts_server.log_text().splitlines() if pattern in line)
    done, total = line.split(" after ")[1].split(" chunks")[0].split(" of ")
    assert int(done) < int(total)  # the first piece came before the last chunk was made
    after = requests.post(f"{tts_server.url}/api/tts/generate/", timeout=60, data={
        "ref_text": REF_TEXT, "gen_text": "Next in line.", "nfe_step": 4},
        files={"ref_audio": ("voice.wav", ref_bytes)})
    assert after.status_code == 200
    health = requests.get(f"{tts_server.url}/api/tts/health/", timeout=10).json()
    assert health["queue_depth"] == 0


def test_hanging_up_on_a_script_stops_it_within_its_part(tts_server, ref_bytes):
    script = f"{STORY} [main speed=1.1] {STORY}"  # two parts, both in the request's voice
    with stream(tts_server, ref_bytes, nfe_step=64, gen_text=script,
                headers={"X-Request-ID": "hang-up-script-1"}) as reply:
        assert reply.status_code == 200
        first = next(reply.iter_content(chunk_size=None))
        total = int(reply.headers["X-Chunks"])
        assert first.startswith(b"RIFF") and total >= 4
    deadline = time.monotonic() + 60
    pattern = "[hang-up-script-1] generation cancelled (the client disconnected) after"
    while pattern not in tts_server.log_text():
        assert time.monotonic() < deadline, tts_server.log_tail()
        time.sleep(0.1)
    time.sleep(1.0)  # the second part would have been admitted by now
    lines = [line for line in tts_server.log_text().splitlines() if "[hang-up-script-1]" in line]
    assert sum(pattern in line for line in lines) == 1, lines
    cancelled = next(line for line in lines if pattern in line)
    done, part_total = cancelled.split(" after ")[1].split(" chunks")[0].split(" of ")
    assert int(done) < int(part_total) < total  # stopped inside the first part
    health = requests.get(f"{tts_server.url}/api/tts/health/", timeout=10).json()
    assert health["queue_depth"] == 0
