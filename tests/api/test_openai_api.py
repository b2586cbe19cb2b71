"""The OpenAI-compatible /v1 endpoints in-process: shapes, aliases, speed mapping, every
response format decoded, errors in OpenAI's shape. (tests/e2e/test_openai_client.py drives
them with the official client over HTTP.)"""

from __future__ import annotations

import base64
import hashlib
import io
import json

import numpy as np
import pytest
import soundfile as sf
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.support.audio import REF_TEXT
from tts.engine import audio
from tts.openai.serializers import CONTENT_TYPES

pytestmark = [pytest.mark.django_db,
              pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume")]
SPEECH = "/v1/audio/speech"
TEXT = "Hello from the compatible endpoint."


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "voice-media")


@pytest.fixture
def narrator(client, ref_wav) -> str:
    response = client.post("/v1/audio/voices", {
        "name": "Narrator", "consent": "cons_1234", "ref_text": REF_TEXT,
        "audio_sample": SimpleUploadedFile("voice.wav", ref_wav.read_bytes())},
        format="multipart")
    assert response.status_code == 200, response.content
    return response.json()["id"]


def speech(client, **fields):
    body = {"model": "tts-1", "input": TEXT, "voice": "narrator", "nfe_step": 4, "seed": 2,
            **fields}
    return client.post(SPEECH, body, format="json", HTTP_ACCEPT="application/octet-stream")


def body_of(response) -> bytes:
    return b"".join(response)  # consumes an async stream the way Django does under WSGI


def openai_error(response, status: int) -> dict:
    assert response.status_code == status, response.content
    payload = response.json()
    assert set(payload) == {"error"} and set(payload["error"]) == {"message", "type", "param",
                                                                   "code"}
    return payload["error"]


def test_create_voice_reply_is_openai_shaped(client, ref_wav):
    response = client.post("/v1/audio/voices", {
        "name": "My Voice", "consent": "cons_1", "ref_text": REF_TEXT,
        "audio_sample": SimpleUploadedFile("v.wav", ref_wav.read_bytes())}, format="multipart")
    voice = response.json()
    assert voice["object"] == "audio.voice" and voice["type"] == "audio_sample"
    assert (voice["id"], voice["name"]) == ("my-voice", "My Voice")
    assert isinstance(voice["created_at"], int)
    assert client.get("/v1/audio/voices").json() == {"voices": [{"id": "my-voice",
                                                                 "name": "My Voice"}]}
    # The same voice through the native API, consent recorded.
    assert client.get("/api/tts/voices/my-voice/").json()["consent"] == "cons_1"


@pytest.mark.parametrize("fmt", ["mp3", "opus", "aac", "flac", "wav", "pcm"])
def test_every_response_format_decodes(client, narrator, fmt):
    response = speech(client, response_format=fmt)
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == CONTENT_TYPES[fmt] and response["X-Seed"] == "2"
    data = body_of(response)
    wav, rate = sf.read(io.BytesIO(body_of(speech(client, response_format="wav"))),
                        dtype="int16")
    assert rate == 24000 and len(wav) > rate // 2
    if fmt == "pcm":  # raw s16le at 24 kHz: the samples of the wav reply
        samples = np.frombuffer(data, dtype="<i2")
        assert np.array_equal(samples, wav)
    else:
        samples = audio.decode(data)  # ffmpeg: aac (ADTS) and Ogg Opus included
        assert len(samples) / 24000 == pytest.approx(len(wav) / 24000, abs=0.08)


def test_voice_as_an_object_and_model_ids(client, narrator):
    by_string = body_of(speech(client, response_format="wav"))
    by_object = body_of(speech(client, response_format="wav", voice={"id": "narrator"}))
    by_our_id = body_of(speech(client, response_format="wav", model="tiny-f5"))
    assert by_string == by_object == by_our_id  # aliases mean the default model


@pytest.mark.parametrize(("given", "used"), [(0.25, 0.3), (1.5, 1.5), (4.0, 2.0)])
def test_speed_is_clamped_to_the_models_range(client, narrator, given, used):
    response = speech(client, speed=given, response_format="wav")
    assert float(response["X-Speed"]) == used
    same = client.post("/api/tts/generate/", {"voice": "narrator", "gen_text": TEXT,
                                               "speed": used, "nfe_step": 4, "seed": 2,
                                               "stream": True}, format="json")
    assert body_of(response) == body_of(same)


def test_sse_events_carry_the_file(client, narrator):
    response = speech(client, stream_format="sse", response_format="wav",
                      instructions="Speak like a pirate.")  # accepted, ignored
    assert response["Content-Type"] == "text/event-stream"
    events = [json.loads(line[len("data: "):])
              for line in body_of(response).decode().split("\n\n") if line]
    assert [e["type"] for e in events[:-1]] == ["speech.audio.delta"] * (len(events) - 1)
    assert len(events) >= 2 and events[-1]["type"] == "speech.audio.done"
    joined = b"".join(base64.b64decode(e["audio"]) for e in events[:-1])
    samples, rate = sf.read(io.BytesIO(joined))
    assert rate == 24000 and len(samples) / rate == pytest.approx(events[-1]["duration"],
                                                                  abs=0.01)
    assert joined == body_of(speech(client, response_format="wav"))


def test_a_multi_voice_script_is_sent_the_same_ways(client, narrator, ref_wav):
    client.post("/v1/audio/voices", {
        "name": "Second", "consent": "cons_2", "ref_text": REF_TEXT,
        "audio_sample": SimpleUploadedFile("voice.wav", ref_wav.read_bytes())},
        format="multipart")
    script = "First voice here. [second] And the second one."
    whole = body_of(speech(client, input=script, response_format="wav"))
    samples, rate = sf.read(io.BytesIO(whole))
    events = [json.loads(line[len("data: "):]) for line in body_of(
        speech(client, input=script, response_format="wav", stream_format="sse")
    ).decode().split("\n\n") if line]
    assert b"".join(base64.b64decode(e["audio"]) for e in events[:-1]) == whole
    assert events[-1]["duration"] == pytest.approx(len(samples) / rate, abs=0.002)


@pytest.mark.parametrize(("fields", "param", "code"), [
    ({"speed": 5}, "speed", "max_value"),
    ({"response_format": "ogg"}, "response_format", "invalid_choice"),
    ({"input": ""}, "input", "blank"),
    ({"input": "x" * 5001}, "input", "string_above_max_length"),
    ({"voice": {"name": "x"}}, "voice", "invalid"),
    ({"input": "Hi [nobody] there."}, "input", "unknown_voice"),
])
def test_bad_input_is_a_400_in_openai_shape(client, narrator, fields, param, code):
    error = openai_error(speech(client, **fields), 400)
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", param,
                                                              code)
    assert error["message"]
    if param == "voice":
        assert '{"id": "..."}' in error["message"]


@pytest.mark.parametrize(("fields", "param", "code"), [
    ({"voice": "alloy"}, "voice", "voice_not_found"),
    ({"model": "tts-2"}, "model", "model_not_found"),
])
def test_unknown_voice_or_model_is_a_404(client, narrator, fields, param, code):
    error = openai_error(speech(client, **fields), 404)
    assert (error["param"], error["code"]) == (param, code)
    assert repr(next(iter(fields.values()))) in error["message"]


def test_models_list_has_ours_and_the_aliases(client):
    models = client.get("/v1/models").json()
    assert models["object"] == "list"
    ids = [m["id"] for m in models["data"]]
    assert {"tiny-f5", "tiny-e2", "tts-1", "tts-1-hd", "gpt-4o-mini-tts"} <= set(ids)
    assert all(m["object"] == "model" for m in models["data"])
    assert client.get("/v1/models/tts-1").json()["id"] == "tts-1"
    assert openai_error(client.get("/v1/models/nope"), 404)["code"] == "model_not_found"


def test_delete_voice(client, narrator):
    assert client.delete("/v1/audio/voices/narrator").json() == {
        "id": "narrator", "object": "audio.voice.deleted", "deleted": True}
    assert openai_error(client.delete("/v1/audio/voices/narrator"), 404)["code"] == (
        "voice_not_found")


def test_unknown_v1_url_and_prompt_voices_are_openai_errors(client, ref_wav):
    assert openai_error(client.get("/v1/audio/nothing"), 404)["code"] == "unknown_url"
    error = openai_error(client.post("/v1/audio/voices", {
        "name": "x", "type": "prompt", "consent": "c",
        "audio_sample": SimpleUploadedFile("v.wav", ref_wav.read_bytes())},
        format="multipart"), 400)
    assert error["param"] == "type"


def test_a_missing_transcript_without_asr_names_ref_text(client, ref_wav):
    error = openai_error(client.post("/v1/audio/voices", {
        "name": "x", "consent": "c",
        "audio_sample": SimpleUploadedFile("v.wav", ref_wav.read_bytes())},
        format="multipart"), 400)
    assert (error["param"], error["code"]) == ("ref_text", "ref_text_required")


def test_tts_1_is_the_fast_preset_and_tts_1_hd_the_best(client, narrator):
    def wav(**fields) -> str:  # a digest: a failing comparison of whole files takes ages
        response = speech(client, response_format="wav", **fields)
        assert response.status_code == 200
        return hashlib.sha256(body_of(response)).hexdigest()

    assert wav(model="tts-1", nfe_step=None) == wav(model="gpt-4o-mini-tts", nfe_step=7)
    assert wav(model="tts-1-hd", nfe_step=None) == wav(model="gpt-4o-mini-tts", nfe_step=None)
    assert wav(model="tts-1", nfe_step=None) != wav(model="tts-1-hd", nfe_step=None)


def test_v1_speech_shares_the_rate_limit_and_is_audited(client, settings, narrator):
    from tts.access.models import AuditEntry

    settings.TTS_RATE_LIMIT_PER_MINUTE = 1
    first = speech(client)
    assert first.status_code == 200 and body_of(first)
    entry = AuditEntry.objects.get(action="openai_speech")
    assert entry.text_chars == len(TEXT) and entry.text == "" and entry.status == 200
    limited = speech(client)
    assert limited.status_code == 429 and int(limited["Retry-After"]) >= 1
    assert "error" in limited.json()  # OpenAI's error shape under /v1
