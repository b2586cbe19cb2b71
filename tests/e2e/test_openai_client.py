"""The official `openai` Python client against the real server's /v1 endpoints."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import openai
import pytest
import soundfile as sf

from tests.support.audio import REF_TEXT
from tts.engine import audio

pytestmark = pytest.mark.e2e
TEXT = "Speech through the official client."
#: Our extensions, sent as the client sends anything it has no argument for.
FAST = {"nfe_step": 4, "seed": 11}


@pytest.fixture(scope="module")
def client(tts_server) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{tts_server.url}/v1", api_key="any-key", max_retries=0,
                         timeout=120)


@pytest.fixture(scope="module")
def voice(client, ref_wav) -> str:
    with ref_wav.open("rb") as sample:
        created = client.audio.voices.create(name="E2E Narrator", audio_sample=sample,
                                             consent="cons_e2e",
                                             extra_body={"ref_text": REF_TEXT})
    assert created.object == "audio.voice" and created.name == "E2E Narrator"
    assert created.id == "e2e-narrator" and created.created_at > 0
    return created.id


def speak(client, voice, **kwargs):
    return client.audio.speech.create(**{"model": "tts-1", "voice": voice, "input": TEXT,
                                         "extra_body": FAST, **kwargs})


@pytest.fixture(scope="module")
def pcm_samples(client, voice) -> np.ndarray:
    """The reference: raw s16le at 24 kHz, every other format must decode to as long."""
    samples = np.frombuffer(speak(client, voice, response_format="pcm").content, dtype="<i2")
    assert len(samples) > 12_000 and np.abs(samples).max() > 0
    return samples


@pytest.mark.parametrize("fmt", ["mp3", "opus", "aac", "flac", "wav"])
def test_every_response_format_decodes(client, voice, pcm_samples, fmt):
    reply = speak(client, voice, response_format=fmt)
    assert reply.response.headers["x-seed"] == str(FAST["seed"])
    samples = audio.decode(reply.content)  # ffmpeg decodes them all, aac and opus included
    assert len(samples) / 24000 == pytest.approx(len(pcm_samples) / 24000, abs=0.08)
    if fmt in ("wav", "flac"):  # lossless: the very samples
        assert np.array_equal(np.round(samples * 32768).astype("<i2"), pcm_samples)


def test_streaming_response_to_file(client, voice, tmp_path):
    target = tmp_path / "speech.wav"
    with client.audio.speech.with_streaming_response.create(
            model="gpt-4o-mini-tts", voice={"id": voice}, input=TEXT, response_format="wav",
            extra_body=FAST) as response:
        assert response.headers.get("transfer-encoding") == "chunked"
        response.stream_to_file(target)
    streamed, rate = sf.read(target, dtype="int16")
    whole, _ = sf.read(io.BytesIO(speak(client, voice, response_format="wav").content),
                       dtype="int16")
    assert rate == 24000 and np.array_equal(streamed, whole)


def test_sse_events_concatenate_to_the_audio(client, voice):
    reply = speak(client, voice, response_format="mp3", stream_format="sse")
    assert reply.response.headers["content-type"].startswith("text/event-stream")
    events = [json.loads(line[len("data: "):]) for line in reply.text.splitlines()
              if line.startswith("data: ")]
    deltas = [event for event in events if event["type"] == "speech.audio.delta"]
    assert deltas and events[-1]["type"] == "speech.audio.done"
    joined = b"".join(base64.b64decode(event["audio"]) for event in deltas)
    assert joined == speak(client, voice, response_format="mp3").content


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({"speed": 9.0}, "speed must be between 0.25 and 4.0"),
    ({"response_format": "ogg"}, "not a supported response_format"),
    ({"input": "x" * 6000}, "the limit is 5000"),
])
def test_bad_input_raises_bad_request_with_our_message(client, voice, kwargs, needle):
    with pytest.raises(openai.BadRequestError) as info:
        speak(client, voice, **kwargs)
    assert needle in info.value.message
    assert info.value.body["type"] == "invalid_request_error"


@pytest.mark.parametrize(("kwargs", "param"), [({"voice": "alloy"}, "voice"),
                                               ({"model": "tts-9"}, "model")])
def test_unknown_voice_or_model_raises_not_found(client, voice, kwargs, param):
    with pytest.raises(openai.NotFoundError) as info:
        speak(client, **{"voice": voice, **kwargs})
    assert repr(next(iter(kwargs.values()))) in info.value.message
    assert info.value.param == param


def test_models_list(client):
    ids = {model.id for model in client.models.list()}
    assert {"tiny-f5", "Custom", "tts-1", "tts-1-hd", "gpt-4o-mini-tts"} <= ids


def test_voice_round_trip(client, ref_wav, tts_server):
    import requests

    with ref_wav.open("rb") as sample:
        created = client.audio.voices.create(name="Short Lived", audio_sample=sample,
                                             consent="cons_tmp",
                                             extra_body={"ref_text": REF_TEXT})
    listed = requests.get(f"{tts_server.url}/v1/audio/voices", timeout=10).json()["voices"]
    assert {"id": created.id, "name": "Short Lived"} in listed
    assert len(speak(client, created.id, response_format="wav").content) > 1000
    deleted = client.audio.voices.delete(created.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (created.id, True,
                                                            "audio.voice.deleted")
    with pytest.raises(openai.NotFoundError):
        speak(client, created.id)
    with pytest.raises(openai.NotFoundError):
        client.audio.voices.delete(created.id)
