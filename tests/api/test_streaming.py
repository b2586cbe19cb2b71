"""Streaming through the API layer (in-process); the live-server tests are in tests/e2e."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
import soundfile as sf

from tests.support.helpers import GENERATE, error_of

STORY = ("Once upon a time a fox lived at the edge of a wood. "
         "Every morning it walked down to the river to drink. ") * 5


def body_of(response) -> bytes:
    return b"".join(response)  # consumes the async stream the way Django does under WSGI


def sse_events(data: bytes) -> list[tuple[str, dict]]:
    events = []
    for block in data.decode().strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((fields["event"], json.loads(fields["data"])))
    return events


@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume")
def test_stream_of_wav_is_one_valid_file_sent_in_chunks(client, form):
    streamed = client.post(GENERATE, form(gen_text=STORY, stream="true", seed=3),
                           format="multipart", HTTP_ACCEPT="audio/wav")
    assert streamed.status_code == 200 and streamed.streaming
    assert streamed["Content-Type"] == "audio/wav"
    assert streamed["X-Accel-Buffering"] == "no" and streamed["X-Seed"] == "3"
    samples, rate = sf.read(io.BytesIO(body_of(streamed)), dtype="float32")
    assert rate == 24000 and len(samples) > rate
    assert int(streamed["X-Chunks"]) >= 3


@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume")
def test_server_sent_events_carry_chunks_then_the_summary(client, form):
    response = client.post(GENERATE, form(gen_text=STORY, seed=4), format="multipart",
                           HTTP_ACCEPT="text/event-stream")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/event-stream")
    events = sse_events(body_of(response))
    names = [name for name, _ in events]
    assert names[-1] == "done" and set(names[:-1]) == {"chunk"} and len(names) >= 4
    chunks = [data for name, data in events if name == "chunk"]
    assert [c["index"] for c in chunks] == list(range(len(chunks)))
    assert all(c["format"] == "pcm_s16le" and c["sample_rate"] == 24000 for c in chunks)
    pcm = b"".join(base64.b64decode(c["audio"]) for c in chunks)
    done = events[-1][1]
    assert done["seed"] == 4 and done["chunks"] == len(chunks)
    assert isinstance(done["timing"]["underruns"], int)  # a real-time listener's gaps
    assert len(pcm) / 2 / 24000 == pytest.approx(done["duration"], abs=0.002)
    assert chunks[-1]["end"] == pytest.approx(done["duration"], abs=0.002)


def test_events_refuse_another_output_format(client, form):
    response = client.post(GENERATE, form(output_format="mp3"), format="multipart",
                           HTTP_ACCEPT="text/event-stream")
    assert response.status_code == 400
    assert error_of(response)["attr"] == "output_format"


def test_a_full_queue_refuses_without_decoding_the_upload(client, form, busy_device,
                                                         monkeypatch):
    from tts.engine import audio

    decodes = []
    real = audio.decode
    monkeypatch.setattr(audio, "decode", lambda *a, **k: decodes.append(1) or real(*a, **k))
    for fields in ({}, {"stream": "true"}):
        response = client.post(GENERATE, form(**fields), format="multipart")
        assert response.status_code == 503 and int(response["Retry-After"]) > 0
        assert error_of(response)["code"] == "engine_busy"
    assert decodes == []


def test_two_models_take_turns_in_one_slot(client, form, settings):
    from tests.support.helpers import reset_engine

    settings.TTS_MAX_LOADED_MODELS = 1
    reset_engine()
    outputs = {}
    for model in ("tiny-f5", "tiny-e2", "tiny-f5", "tiny-e2"):
        response = client.post(GENERATE, form(model=model, seed=2), format="multipart")
        assert response.status_code == 200, response.content
        body = response.json()
        outputs.setdefault(model, []).append(body["audio"])
        assert body["timing"]["load_seconds"] > 0  # the other one was evicted meanwhile
        health = client.get("/api/tts/health/").json()
        assert health["loaded_models"] == [model]
    assert all(len(set(audios)) == 1 for audios in outputs.values())  # reloads change nothing


@pytest.mark.parametrize("fmt", ["aac", "pcm"])
def test_new_whole_file_formats(client, form, fmt):
    response = client.post(GENERATE, form(output_format=fmt), format="multipart",
                           HTTP_ACCEPT="audio/*")
    assert response.status_code == 200
    assert response["Content-Type"] == {"aac": "audio/aac", "pcm": "audio/pcm"}[fmt]
    if fmt == "pcm":
        samples = np.frombuffer(response.content, dtype="<i2")
        assert len(samples) / 24000 == pytest.approx(float(response["X-Duration"]), abs=0.002)
