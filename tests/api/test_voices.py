"""Saved voices: CRUD over /api/tts/voices/, files kept through Django's storage, `voice` on
generate, and multi-voice scripts with [voice-id] tags.

Real clips (espeak-ng through ffmpeg), the tiny models and the real offline Whisper.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.support.asr import REF_WORDS, whisper_model_path
from tests.support.audio import REF_TEXT, speak
from tests.support.helpers import error_of, reset_engine
from tests.support.speech import INPUT_FORMATS, make_input_formats, words
from tts.engine import audio
from tts.engine.asr import Transcriber

pytestmark = pytest.mark.django_db
VOICES = "/api/tts/voices/"
GENERATE = "/api/tts/generate/"
CONSENT = "The speaker agreed in writing."


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    """A private media folder, set so the storage notices (setting_changed)."""
    settings.MEDIA_ROOT = str(tmp_path / "voice-media")
    return Path(settings.MEDIA_ROOT)


@pytest.fixture(scope="module")
def formats(ref_wav, tmp_path_factory) -> dict[str, Path]:
    return make_input_formats(ref_wav, tmp_path_factory.mktemp("voice-formats"))


@pytest.fixture(scope="module")
def second_wav(audio_dir) -> Path:
    return speak("A different sentence, spoken for the second voice in the script.",
                 audio_dir / "second.wav", speed=140)


@pytest.fixture
def asr(settings):
    settings.TTS_ASR_MODEL = whisper_model_path()
    reset_engine()
    yield settings
    reset_engine()


@pytest.fixture
def asr_calls(monkeypatch) -> list[int]:
    calls: list[int] = []
    real = Transcriber.transcribe

    def counting(self, samples, sample_rate):
        calls.append(len(samples))
        return real(self, samples, sample_rate)

    monkeypatch.setattr(Transcriber, "transcribe", counting)
    return calls


@pytest.fixture
def decode_calls(monkeypatch) -> list[int]:
    calls: list[int] = []
    real = audio.decode

    def counting(data, **kwargs):
        calls.append(len(data))
        return real(data, **kwargs)

    monkeypatch.setattr(audio, "decode", counting)
    return calls


def create(client, path: Path, **fields):
    body = {"name": "Narrator", "ref_audio": SimpleUploadedFile(path.name, path.read_bytes()),
            "ref_text": REF_TEXT, "consent": CONSENT, **fields}
    body = {key: value for key, value in body.items() if value is not None}
    return client.post(VOICES, body, format="multipart")


def created(response) -> dict:
    assert response.status_code == 201, response.content[:2000]
    return response.json()


def generate(client, **fields) -> dict:
    body = {"gen_text": "Hello from a saved voice.", "nfe_step": 4, "seed": 3, **fields}
    response = client.post(GENERATE, body, format="json")
    assert response.status_code == 200, response.content[:2000]
    return response.json()


def samples_of(reply: dict) -> np.ndarray:
    data, _ = sf.read(io.BytesIO(base64.b64decode(reply["audio"])), dtype="int16")
    return data


# --- create -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(INPUT_FORMATS))
def test_a_voice_from_every_input_format(client, formats, name, media):
    voice = created(create(client, formats[name], id=f"v-{name}"))
    assert voice["id"] == f"v-{name}"
    assert voice["ref_text"] == REF_TEXT and voice["transcribed"] is False
    assert voice["ref_clip"]["original_seconds"] == pytest.approx(4.12, abs=0.08)
    assert 3.0 < voice["duration"] < 4.5
    assert voice["consent"] == CONSENT
    # The clip comes back exactly as uploaded, through the storage.
    clip = client.get(voice["clip_url"])
    assert clip.status_code == 200
    assert clip.content == formats[name].read_bytes()
    assert len(list((media / "voices" / voice["id"]).iterdir())) == 2


def test_a_voice_from_base64_json(client, formats):
    payload = {"name": "JSON voice", "consent": CONSENT, "ref_text": REF_TEXT,
               "ref_audio": base64.b64encode(formats["m4a-aac-stereo"].read_bytes()).decode()}
    voice = created(client.post(VOICES, payload, format="json"))
    assert voice["id"] == "json-voice"  # derived from the name
    assert voice["ref_text"] == REF_TEXT


def test_ids_are_derived_from_names_and_never_collide(client, ref_wav):
    ids = [created(create(client, ref_wav, name="Café Voice!"))["id"] for _ in range(3)]
    assert ids == ["cafe-voice", "cafe-voice-2", "cafe-voice-3"]


def test_a_chosen_id_that_is_taken_or_reserved_is_a_400(client, ref_wav, media):
    created(create(client, ref_wav, id="anna"))
    error = error_of(create(client, ref_wav, id="anna"))
    assert (error["attr"], error["code"]) == ("id", "voice_exists")
    error = error_of(create(client, ref_wav, id="main"))
    assert (error["attr"], error["code"]) == ("id", "reserved_id")
    error = error_of(create(client, ref_wav, id="no spaces"))
    assert error["attr"] == "id"
    assert len(list((media / "voices").iterdir())) == 1  # nothing stored for the refusals


@pytest.mark.parametrize(("field", "value"), [("consent", None), ("consent", "  "),
                                              ("name", None)])
def test_consent_and_name_are_required(client, ref_wav, field, value):
    error = error_of(create(client, ref_wav, **{field: value}))
    assert error["attr"] == field and field in error["detail"]


def test_bad_audio_is_refused_as_on_generate(client, tmp_path, media):
    noise = tmp_path / "noise.wav"
    noise.write_bytes(np.random.default_rng(1).bytes(30_000))
    error = error_of(create(client, noise))
    assert (error["attr"], error["code"]) == ("ref_audio", "undecodable_audio")
    assert not (media / "voices").exists()


def test_an_upload_over_the_limit_is_a_413(client, ref_wav, settings):
    settings.TTS_MAX_UPLOAD_MB = 0.01
    response = create(client, ref_wav)
    assert response.status_code == 413
    assert "TTS_MAX_UPLOAD_MB" in error_of(response)["detail"]


def test_without_asr_a_missing_transcript_is_a_400(client, ref_wav):
    error = error_of(create(client, ref_wav, ref_text=None))
    assert (error["attr"], error["code"]) == ("ref_text", "ref_text_required")


def test_a_missing_transcript_is_recognised(client, ref_wav, asr, no_network):
    voice = created(create(client, ref_wav, ref_text=None))
    assert voice["transcribed"] is True
    assert REF_WORDS.issubset(words(voice["ref_text"])), voice["ref_text"]


def test_an_unknown_field_is_named(client, ref_wav):
    error = error_of(create(client, ref_wav, nmae="typo"))
    assert (error["attr"], error["code"]) == ("nmae", "unknown_field")


# --- list, retrieve, update, delete -------------------------------------------------------------

def test_list_is_paginated_oldest_first(client, ref_wav):
    for index in range(3):
        created(create(client, ref_wav, id=f"voice-{index}"))
    page = client.get(VOICES, {"page_size": 2}).json()
    assert page["count"] == 3
    assert [v["id"] for v in page["results"]] == ["voice-0", "voice-1"]
    rest = client.get(page["next"]).json()
    assert [v["id"] for v in rest["results"]] == ["voice-2"] and rest["next"] is None


def test_retrieve_and_update(client, ref_wav, asr, asr_calls):
    voice = created(create(client, ref_wav, id="anna"))
    assert client.get(f"{VOICES}anna/").json() == voice
    response = client.patch(f"{VOICES}anna/", {"name": "Anna B.", "description": "Warm."},
                            format="json")
    assert response.status_code == 200
    assert response.json()["name"] == "Anna B." and response.json()["description"] == "Warm."
    assert response.json()["ref_text"] == REF_TEXT  # untouched
    # A new transcript re-prepares: generation uses it (the reply reports it).
    fixed = client.patch(f"{VOICES}anna/", {"ref_text": "Corrected words."}, format="json")
    assert fixed.json()["ref_text"] == "Corrected words." and not fixed.json()["transcribed"]
    assert generate(client, voice="anna")["ref_text"] == "Corrected words."
    assert asr_calls == []
    # An empty one is recognised again.
    again = client.patch(f"{VOICES}anna/", {"ref_text": ""}, format="json").json()
    assert again["transcribed"] and REF_WORDS.issubset(words(again["ref_text"]))
    assert len(asr_calls) == 1


def test_update_rejects_unknown_fields_and_unknown_voices(client, ref_wav):
    created(create(client, ref_wav, id="anna"))
    error = error_of(client.patch(f"{VOICES}anna/", {"consent": "changed"}, format="json"))
    assert (error["attr"], error["code"]) == ("consent", "unknown_field")
    response = client.patch(f"{VOICES}nobody/", {"name": "x"}, format="json")
    assert response.status_code == 404
    assert error_of(response)["code"] == "voice_not_found"


@pytest.mark.parametrize("accept", ["audio/*", "audio/wav", "*/*", "application/json"])
def test_the_clip_answers_the_accept_headers_players_send(client, ref_wav, accept):
    voice = created(create(client, ref_wav, id=f"clip-{accept.split('/')[1].strip('*') or 'any'}"))
    clip = client.get(voice["clip_url"], HTTP_ACCEPT=accept)
    assert clip.status_code == 200, clip.content[:300]
    assert clip["Content-Type"].startswith("audio/") and clip.content == ref_wav.read_bytes()
    missing = client.get(f"{VOICES}nobody/clip/", HTTP_ACCEPT=accept)
    assert missing.status_code == 404 and missing["Content-Type"] == "application/json"
    assert error_of(missing)["code"] == "voice_not_found"


def test_delete_removes_the_voice_and_its_files(client, ref_wav, media):
    voice = created(create(client, ref_wav, id="gone"))
    folder = media / "voices" / "gone"
    assert len(list(folder.iterdir())) == 2
    assert client.delete(f"{VOICES}gone/").status_code == 204
    assert not folder.exists()  # its files, then its emptied folder
    for url in (f"{VOICES}gone/", voice["clip_url"]):
        response = client.get(url)
        assert response.status_code == 404 and error_of(response)["code"] == "voice_not_found"
    response = client.post(GENERATE, {"voice": "gone", "gen_text": "Hi."}, format="json")
    assert response.status_code == 404
    assert error_of(response)["code"] == "voice_not_found"
    assert client.delete(f"{VOICES}gone/").status_code == 404


def test_any_storage_backend_by_setting_only(client, ref_wav, settings, media):
    """With another STORAGES backend (here Django's in-memory one) nothing is written to the
    media folder, and the voice works the same."""
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.InMemoryStorage"}}
    voice = created(create(client, ref_wav, id="mem"))
    assert not media.exists()
    _, stored = default_storage.listdir("voices/mem")
    assert sorted(stored) == ["clip.wav", "reference.npz"]
    assert client.get(voice["clip_url"]).content == ref_wav.read_bytes()
    reset_engine()  # a restart: the prepared reference is read back from that storage
    assert generate(client, voice="mem")["ref_text"] == REF_TEXT


# --- generate with a voice ----------------------------------------------------------------------

def test_voice_gives_the_same_samples_as_uploading_the_clip(client, ref_wav, ref_bytes):
    created(create(client, ref_wav, id="anna"))
    by_voice = generate(client, voice="anna")
    uploaded = generate(client, ref_audio=base64.b64encode(ref_bytes).decode(),
                        ref_text=REF_TEXT)
    assert by_voice["seed"] == uploaded["seed"] == 3
    assert np.array_equal(samples_of(by_voice), samples_of(uploaded))
    assert by_voice["segments"] == [{"voice": "anna", "text": "Hello from a saved voice.",
                                     "start": 0.0, "end": by_voice["duration"]}]
    assert uploaded["segments"][0]["voice"] is None


def test_after_a_restart_nothing_is_decoded_or_transcribed_again(client, ref_wav, asr,
                                                                 asr_calls, decode_calls):
    created(create(client, ref_wav, id="anna", ref_text=None))
    assert len(asr_calls) == 1 and len(decode_calls) == 1
    reset_engine()  # a new process: empty caches, models not loaded
    first = generate(client, voice="anna")
    second = generate(client, voice="anna")
    assert len(asr_calls) == 1 and len(decode_calls) == 1
    assert not first["timing"]["reference_cached"] and second["timing"]["reference_cached"]
    assert np.array_equal(samples_of(first), samples_of(second))


@pytest.mark.parametrize(("fields", "attr", "code"), [
    ({"ref_audio": "AAAA"}, "voice", "voice_conflict"),
    ({"ref_text": "Words."}, "ref_text", "voice_conflict"),
])
def test_voice_with_a_clip_or_transcript_is_a_400(client, ref_wav, fields, attr, code):
    created(create(client, ref_wav, id="anna"))
    response = client.post(GENERATE, {"voice": "anna", "gen_text": "Hi.", **fields},
                           format="json")
    error = error_of(response)
    assert response.status_code == 400 and (error["attr"], error["code"]) == (attr, code)


def test_neither_voice_nor_clip_is_a_400_naming_both(client):
    response = client.post(GENERATE, {"gen_text": "Hi."}, format="json")
    error = error_of(response)
    assert response.status_code == 400 and error["attr"] == "ref_audio"
    assert "voice" in error["detail"]


def test_an_unknown_voice_is_a_404(client):
    response = client.post(GENERATE, {"voice": "nobody", "gen_text": "Hi."}, format="json")
    assert response.status_code == 404
    assert error_of(response)["code"] == "voice_not_found"
    assert "nobody" in error_of(response)["detail"]


# --- multi-voice scripts ------------------------------------------------------------------------

@pytest.fixture
def two_voices(client, ref_wav, second_wav):
    created(create(client, ref_wav, id="anna"))
    created(create(client, second_wav, id="ben",
                   ref_text="A different sentence, spoken for the second voice in the script."))


def test_a_script_switches_voices_in_order(client, two_voices, ref_bytes):
    script = "Welcome to the show. [ben] Thanks, glad to be here. [anna] Let us begin."
    reply = generate(client, voice="anna", gen_text=script)
    segments = reply["segments"]
    assert [(s["voice"], s["text"]) for s in segments] == [
        ("anna", "Welcome to the show."), ("ben", "Thanks, glad to be here."),
        ("anna", "Let us begin.")]
    assert segments[0]["start"] == 0.0 and segments[-1]["end"] == reply["duration"]
    for before, after in zip(segments, segments[1:], strict=False):
        assert before["end"] == after["start"] and before["start"] < before["end"]
    # Each segment is what that voice alone says with the same seed.
    audio_all = samples_of(reply)
    alone = generate(client, voice="ben", gen_text="Thanks, glad to be here.",
                     seed=reply["seed"])
    start = round(segments[1]["start"] * 24000)
    piece = audio_all[start:start + len(samples_of(alone))]
    assert np.array_equal(piece, samples_of(alone))


def test_a_fully_tagged_script_needs_no_request_voice(client, two_voices):
    reply = generate(client, gen_text="[ben speed=1.5] Fast words here. [anna] Slow ones.")
    assert [s["voice"] for s in reply["segments"]] == ["ben", "anna"]
    fast = reply["segments"][0]
    same = generate(client, voice="ben", gen_text="Fast words here.", speed=1.5,
                    seed=reply["seed"])
    assert fast["end"] == same["duration"]


def test_main_returns_to_the_uploaded_clip(client, two_voices, ref_bytes):
    reply = generate(client, ref_audio=base64.b64encode(ref_bytes).decode(),
                     ref_text=REF_TEXT, gen_text="One. [ben] Two. [main] Three.")
    assert [s["voice"] for s in reply["segments"]] == [None, "ben", None]


def test_unknown_tags_are_one_400_listing_them_all(client, two_voices):
    response = client.post(GENERATE, {"voice": "anna", "gen_text": (
        "Hi [zed] there [ben] and [yan] and [zed] again.")}, format="json")
    error = error_of(response)
    assert response.status_code == 400 and len(response.json()["errors"]) == 1
    assert (error["attr"], error["code"]) == ("gen_text", "unknown_voice")
    assert "[yan], [zed]" in error["detail"] and "[ben]" not in error["detail"]


def test_a_bad_segment_speed_is_a_400(client, two_voices):
    response = client.post(GENERATE, {"voice": "anna", "gen_text": (
        "Hi [ben speed=9] there.")}, format="json")
    error = error_of(response)
    assert (error["attr"], error["code"]) == ("gen_text", "invalid_script_speed")
    assert "[ben speed=9]" in error["detail"]


def test_the_storage_backend_is_chosen_by_environment():
    """TTS_STORAGE_BACKEND / TTS_STORAGE_OPTIONS pick the storage (S3 works the same way)."""
    import json
    import os
    import subprocess
    import sys

    from tests.support.server import ROOT

    env = {**os.environ, "TTS_STORAGE_BACKEND": "django.core.files.storage.InMemoryStorage",
           "TTS_STORAGE_OPTIONS": json.dumps({"base_url": "/stored/"})}
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c",
         "from django.core.files.storage import storages; s = storages['default']; "
         "print(type(s).__name__, s.base_url)"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.split()[-2:] == ["InMemoryStorage", "/stored/"]


@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume")
def test_streaming_with_a_voice_and_with_a_script(client, two_voices):
    streamed = client.post(GENERATE, {"voice": "anna", "gen_text": "Streamed from a voice.",
                                      "stream": True, "nfe_step": 4, "seed": 5},
                           format="json", HTTP_ACCEPT="audio/wav")
    assert streamed.status_code == 200 and streamed.streaming
    samples, rate = sf.read(io.BytesIO(b"".join(streamed)))
    assert rate == 24000 and len(samples) > rate // 2

    script = ("Welcome back to the show, everyone. [ben] Thanks, glad to be here today. "
              "[anna] Let us begin with the news.")
    request = {"voice": "anna", "gen_text": script, "nfe_step": 4, "seed": 6}
    pcm = client.post(GENERATE, {**request, "stream": True, "output_format": "pcm"},
                      format="json")
    assert pcm.status_code == 200 and pcm.streaming
    pcm_bytes = b"".join(pcm)
    events = client.post(GENERATE, request, format="json", HTTP_ACCEPT="text/event-stream")
    blocks = [dict(line.split(": ", 1) for line in block.splitlines())
              for block in b"".join(events).decode().strip().split("\n\n")]
    chunks = [json.loads(b["data"]) for b in blocks if b["event"] == "chunk"]
    done = json.loads(blocks[-1]["data"])
    assert blocks[-1]["event"] == "done" and done["chunks"] == len(chunks) >= 3
    assert [c["index"] for c in chunks] == list(range(len(chunks)))
    assert {c["total"] for c in chunks} == {len(chunks)} == {int(pcm["X-Chunks"])}
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert after["start"] == pytest.approx(before["end"], abs=1e-3)  # one timeline
    assert b"".join(base64.b64decode(c["audio"]) for c in chunks) == pcm_bytes
    assert [s["voice"] for s in done["segments"]] == ["anna", "ben", "anna"]
    assert done["segments"][-1]["end"] == pytest.approx(done["duration"], abs=1e-3)
    assert len(pcm_bytes) / 2 / 24000 == pytest.approx(done["duration"], abs=2e-3)


@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume")
def test_a_streamed_script_reads_each_part_through_the_front_end_once(client, two_voices,
                                                                       monkeypatch):
    from tts.engine.engine import TTSEngine

    planned: list[str] = []
    real = TTSEngine.plan_text

    def counting(self, model_id, gen_text, params):
        planned.append(gen_text)
        return real(self, model_id, gen_text, params)

    monkeypatch.setattr(TTSEngine, "plan_text", counting)
    script = "Good morning. [ben] Good morning to you. [anna] Shall we begin?"
    reply = client.post(GENERATE, {"voice": "anna", "gen_text": script, "nfe_step": 4,
                                   "seed": 6, "stream": True, "output_format": "pcm"},
                        format="json")
    assert reply.status_code == 200 and b"".join(reply)
    assert len(planned) == 3  # planned once at the start, carried to the count and streams
