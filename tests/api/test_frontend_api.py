"""The text front-end through the API: normalize, pronunciations, pause tags and spoken_text
on generate, streams, scripts, jobs and /v1; a lexicon file; field-named 400s."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
import soundfile as sf
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.support.audio import REF_TEXT
from tests.support.helpers import error_of, reset_engine

GENERATE = "/api/tts/generate/"
SPEECH = "/v1/audio/speech"
RATE = 24_000
HOP = 256


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "voice-media")


def generate(client, ref_bytes, **fields) -> dict:
    body = {"ref_audio": base64.b64encode(ref_bytes).decode(), "ref_text": REF_TEXT,
            "gen_text": "Hello there.", "nfe_step": 4, "seed": 5, **fields}
    response = client.post(GENERATE, body, format="json")
    assert response.status_code == 200, response.content[:2000]
    return response.json()


def samples_of(data: bytes) -> np.ndarray:
    samples, rate = sf.read(io.BytesIO(data), dtype="int16")
    assert rate == RATE
    return samples


def silences(samples: np.ndarray) -> list[tuple[int, int]]:
    """(start, length) of each run of exact zeros longer than one frame."""
    zero = np.concatenate([[False], samples == 0, [False]])
    edges = np.flatnonzero(np.diff(zero.astype(np.int8)))
    return [(int(a), int(b - a)) for a, b in zip(edges[::2], edges[1::2], strict=True)
            if b - a > HOP]


def body_of(response) -> bytes:
    return b"".join(response)  # consumes the async stream the way Django does under WSGI


# --- normalisation and spoken_text -------------------------------------------------------------
def test_spoken_text_shows_what_the_model_was_given(client, ref_bytes):
    reply = generate(client, ref_bytes, gen_text="It costs $12.50 on 3/14/2025.")
    assert reply["spoken_text"] == ("It costs twelve dollars and fifty cents on the fourteenth "
                                    "of march twenty twenty five.")
    assert reply["segments"][0]["text"] == "It costs $12.50 on 3/14/2025."  # as written


def test_normalize_off_speaks_the_text_as_sent(client, ref_bytes):
    on = generate(client, ref_bytes, gen_text="It costs $5.")
    off = generate(client, ref_bytes, gen_text="It costs $5.", normalize="off")
    assert off["spoken_text"] == "It costs $5."
    assert on["spoken_text"] == "It costs five dollars."
    assert off["duration"] < on["duration"]  # F5 gives each chunk time by its text's length


def test_a_bad_normalize_mode_is_a_field_error(client, ref_bytes):
    response = client.post(GENERATE, {"ref_audio": base64.b64encode(ref_bytes).decode(),
                                      "ref_text": REF_TEXT, "gen_text": "Hi.",
                                      "normalize": "loud"}, format="json")
    error = error_of(response)
    assert response.status_code == 400 and error["attr"] == "normalize"
    assert "auto or off" in error["detail"]


def test_a_model_can_turn_normalisation_off(client, ref_bytes, settings, tiny_dir):
    original = (tiny_dir / "models.toml").read_text(encoding="utf-8")
    raw = original.split("[[models]]")[1].replace('id = "tiny-f5"', 'id = "tiny-raw"')
    models = tiny_dir / "models-raw.toml"  # beside the weights: its paths are relative
    models.write_text(f"{original}\n[[models]]{raw.rstrip()}\nnormalize = false\n",
                      encoding="utf-8")
    settings.TTS_MODELS_FILE = str(models)
    reset_engine()
    reply = generate(client, ref_bytes, gen_text="It costs $5. [pause:1s] Bye.",
                     model="tiny-raw")
    assert reply["spoken_text"] == "It costs $5. [pause:1s] Bye."  # pauses still apply
    assert generate(client, ref_bytes, gen_text="It costs $5.")["spoken_text"] == \
        "It costs five dollars."


# --- pronunciations ----------------------------------------------------------------------------
def test_pronunciations_in_json_and_in_a_form(client, ref_bytes, ref_wav):
    reply = generate(client, ref_bytes, gen_text="nginx serves SQL.",
                     pronunciations={"nginx": "engine x", "sql": {"say": "sequel"}})
    assert reply["spoken_text"] == "engine x serves sequel."
    form = {"ref_audio": ref_wav.open("rb"), "ref_text": REF_TEXT, "nfe_step": 4,
            "gen_text": "nginx serves SQL.", "pronunciations": json.dumps({"nginx": "engine x"})}
    response = client.post(GENERATE, form, format="multipart")
    assert response.status_code == 200, response.content[:500]
    assert response.json()["spoken_text"] == "engine x serves SQL."


@pytest.mark.parametrize(("value", "named"), [
    ({"nginx": ""}, "entry 'nginx'"), ({"nginx": {"sound": "x"}}, "sound"),
    (["nginx"], "must be an object"), ("{not json", "must be an object")])
def test_bad_pronunciations_are_a_field_error(client, ref_bytes, value, named):
    response = client.post(GENERATE, {"ref_audio": base64.b64encode(ref_bytes).decode(),
                                      "ref_text": REF_TEXT, "gen_text": "Hi.",
                                      "pronunciations": value}, format="json")
    error = error_of(response)
    assert response.status_code == 400 and error["attr"] == "pronunciations"
    assert named in error["detail"]


def test_the_lexicon_file_applies_and_the_request_wins(client, ref_bytes, settings, tmp_path):
    lexicon = tmp_path / "lexicon.toml"
    lexicon.write_text('nginx = "engine x"\nSQL = "sequel"\n', encoding="utf-8")
    settings.TTS_LEXICON_FILE = str(lexicon)
    reset_engine()
    try:
        reply = generate(client, ref_bytes, gen_text="nginx serves SQL.",
                         pronunciations={"SQL": "S Q L"})
    finally:
        settings.TTS_LEXICON_FILE = ""
        reset_engine()
    assert reply["spoken_text"] == "engine x serves S Q L."


def test_a_bad_lexicon_file_stops_the_server_at_start(settings, tmp_path):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    lexicon = tmp_path / "lexicon.toml"
    lexicon.write_text('nginx = "engine x"\nkubectl = { sey = "cube control" }\n',
                       encoding="utf-8")
    settings.TTS_LEXICON_FILE = str(lexicon)
    with pytest.raises(SystemCheckError) as caught:
        call_command("check")
    assert "entry 'kubectl'" in str(caught.value) and "tts.E008" in str(caught.value)


# --- pauses ------------------------------------------------------------------------------------
def test_a_pause_in_a_whole_file(client, ref_bytes):
    reply = generate(client, ref_bytes, gen_text="Before the pause. [pause:1.5s] After it.")
    samples = samples_of(base64.b64decode(reply["audio"]))
    before = generate(client, ref_bytes, gen_text="Before the pause.")
    [(start, length)] = silences(samples)
    assert start == len(samples_of(base64.b64decode(before["audio"])))
    assert abs(length - 1.5 * RATE) <= HOP
    assert reply["spoken_text"] == "Before the pause. [pause:1.5s] After it."
    assert reply["chunks"] == 3


@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume")
def test_a_pause_in_a_stream(client, ref_bytes):
    body = {"ref_audio": base64.b64encode(ref_bytes).decode(), "ref_text": REF_TEXT,
            "gen_text": "Streams pause too. [pause:500ms] Then go on.", "nfe_step": 4,
            "seed": 5, "stream": True}
    response = client.post(GENERATE, body, format="json", HTTP_ACCEPT="audio/wav")
    assert response.status_code == 200
    samples = samples_of(body_of(response))
    whole = generate(client, ref_bytes, gen_text="Streams pause too.", stream=False)
    [(start, length)] = silences(samples)
    # A stream's first chunk is cut short, so the text before the pause may be two chunks;
    # the silence still starts where the speech before it ends.
    assert abs(length - 0.5 * RATE) <= HOP
    assert start > 0 and abs(start - round(whole["duration"] * RATE)) < 2 * RATE
    events = client.post(GENERATE, {**body, "stream": True}, format="json",
                         HTTP_ACCEPT="text/event-stream")
    text = body_of(events).decode()
    chunks = [json.loads(block.split("data: ", 1)[1]) for block in text.strip().split("\n\n")
              if block.startswith("event: chunk")]
    pauses = [chunk for chunk in chunks if chunk["text"] == "[pause:500ms]"]
    assert len(pauses) == 1 and len(base64.b64decode(pauses[0]["audio"])) == 2 * 12_000
    assert not any(base64.b64decode(pauses[0]["audio"]))


def test_a_pause_in_a_multi_voice_script(client, ref_wav, ref_bytes):
    created = client.post("/api/tts/voices/", {
        "name": "Ben", "id": "ben", "ref_text": REF_TEXT, "consent": "Agreed in writing.",
        "ref_audio": SimpleUploadedFile("ben.wav", ref_wav.read_bytes())}, format="multipart")
    assert created.status_code == 201, created.content[:500]
    reply = generate(client, ref_bytes,
                     gen_text="Hello from me. [pause:1s] [ben] [pause:2s] And from Ben.")
    assert [s["voice"] for s in reply["segments"]] == [None, "ben"]
    samples = samples_of(base64.b64decode(reply["audio"]))
    runs = silences(samples)
    first_end = round(reply["segments"][0]["end"] * RATE)
    # 1 s closes the first voice's part; 2 s open Ben's: 3 s of silence at the boundary.
    assert len(runs) == 1
    start, length = runs[0]
    assert abs(length - 3 * RATE) <= HOP and abs(start + RATE - first_end) <= HOP
    assert "[pause:1s]" in reply["spoken_text"] and "[pause:2s]" in reply["spoken_text"]


def test_a_script_may_start_with_a_pause_and_need_no_request_voice(client, ref_wav):
    created = client.post("/api/tts/voices/", {
        "name": "Ben", "id": "ben", "ref_text": REF_TEXT, "consent": "Agreed in writing.",
        "ref_audio": SimpleUploadedFile("ben.wav", ref_wav.read_bytes())}, format="multipart")
    assert created.status_code == 201, created.content[:500]
    response = client.post(GENERATE, {"gen_text": "[pause:500ms] [ben] Hello there.",
                                      "nfe_step": 4, "seed": 5}, format="json")
    assert response.status_code == 200, response.content[:500]
    reply = response.json()
    assert [s["voice"] for s in reply["segments"]] == ["ben"]
    samples = samples_of(base64.b64decode(reply["audio"]))
    [(start, length)] = silences(samples)
    assert start == 0 and abs(length - RATE // 2) <= HOP


@pytest.mark.parametrize(("text", "code", "named"), [
    ("Hi [pause:1.5] there.", "invalid_pause", "[pause:1.5]"),
    ("Hi [pause:11s] there.", "pause_too_long", "[pause:11s]"),
    ("Hi" + " [pause:10s] and" * 6 + " [pause:1s] end.", "pauses_too_long", "[pause:1s]"),
])
def test_bad_pause_tags_are_a_400_naming_the_tag(client, ref_bytes, text, code, named):
    response = client.post(GENERATE, {"ref_audio": base64.b64encode(ref_bytes).decode(),
                                      "ref_text": REF_TEXT, "gen_text": text}, format="json")
    error = error_of(response)
    assert response.status_code == 400
    assert (error["attr"], error["code"]) == ("gen_text", code) and named in error["detail"]


def test_a_voice_cannot_be_called_pause(client, ref_wav):
    response = client.post("/api/tts/voices/", {
        "name": "Pause", "id": "pause", "ref_text": REF_TEXT, "consent": "Agreed.",
        "ref_audio": SimpleUploadedFile("p.wav", ref_wav.read_bytes())}, format="multipart")
    error = error_of(response)
    assert response.status_code == 400 and error["code"] == "reserved_id"


# --- /v1 ------------------------------------------------------------------------------------
def test_openai_speech_takes_normalize_pronunciations_and_pauses(client, ref_wav):
    voice = client.post("/v1/audio/voices", {
        "name": "Narrator", "consent": "cons_1", "ref_text": REF_TEXT,
        "audio_sample": SimpleUploadedFile("voice.wav", ref_wav.read_bytes())},
        format="multipart").json()["id"]

    def speech(**fields) -> bytes:
        body = {"model": "tts-1", "voice": voice, "nfe_step": 4, "seed": 2,
                "response_format": "wav", **fields}
        response = client.post(SPEECH, body, format="json")
        assert response.status_code == 200, response.content[:500]
        return body_of(response)

    on = samples_of(speech(input="It costs $5."))
    off = samples_of(speech(input="It costs $5.", normalize="off"))
    said = samples_of(speech(input="It costs $5.", normalize="off",
                             pronunciations={"$5": "five dollars"}))
    assert len(off) < len(on) and np.array_equal(said, on)
    paused = samples_of(speech(input="One. [pause:1s] Two."))
    assert any(abs(length - RATE) <= HOP for _, length in silences(paused))
    bad = client.post(SPEECH, {"model": "tts-1", "voice": voice, "input": "Hi [pause:x]."},
                      format="json")
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "input"
