"""Errors that say the fix (issue 19 item 6): each names what was wrong and what to send."""

from __future__ import annotations

import io
import wave

import pytest

from tests.support.helpers import GENERATE, error_of

SPEECH = "/v1/audio/speech"


def openai_error(response, status: int) -> dict:
    assert response.status_code == status, response.content
    return response.json()["error"]


@pytest.mark.parametrize("path", [GENERATE, "/api/tts/jobs/", "/api/tts/voices/"])
def test_a_urlencoded_form_is_a_415_naming_multipart_and_json(client, path):
    response = client.post(path, data="gen_text=hi&voice=x",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    error = error_of(response)
    assert error["code"] == "unsupported_media_type"
    for words in ("application/x-www-form-urlencoded", "multipart/form-data", "curl -F",
                  "application/json", "cannot carry an audio file"):
        assert words in error["detail"], error["detail"]


def test_v1_speech_415_names_json_only(client):
    error = openai_error(client.post(SPEECH, data="input=hi",
                                     content_type="application/x-www-form-urlencoded"), 415)
    assert "send application/json." in error["message"]
    assert "multipart" not in error["message"]


def test_a_valid_wav_with_no_samples_says_it_is_empty(client, form):
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as empty:
        empty.setnchannels(1)
        empty.setsampwidth(2)
        empty.setframerate(24000)
    buffer.seek(0)
    buffer.name = "empty.wav"
    error = error_of(client.post(GENERATE, form(ref_audio=buffer), format="multipart"))
    assert (error["attr"], error["code"]) == ("ref_audio", "empty_audio")
    assert "empty" in error["detail"] and "no samples" in error["detail"]
    assert "3-12 s" in error["detail"]


@pytest.mark.parametrize("value", [2, 100, "many"])
def test_nfe_step_errors_name_the_presets_values_not_null(client, form, value):
    error = error_of(client.post(GENERATE, form(nfe_step=value), format="multipart"))
    assert error["attr"] == "nfe_step"
    assert "null" not in error["detail"]
    assert "between 4 and 64" in error["detail"]
    assert "fast 7, balanced 16, best 32" in error["detail"], error["detail"]


@pytest.mark.parametrize("body, param, words", [
    ({"stream_format": "chunks"}, "stream_format", ["audio", "sse", "chunks"]),
    ({"nfe_step": 100}, "nfe_step", ["between 4 and 64", "tts-1 7", "tts-1-hd 32"]),
    ({"voice": None}, "voice", ["voice is required", "GET /v1/audio/voices",
                                "POST /v1/audio/voices"]),
])
def test_v1_validation_errors_say_what_is_allowed(client, body, param, words):
    request = {"model": "tts-1", "input": "Hello.", "voice": "narrator", **body}
    request = {key: value for key, value in request.items() if value is not None}
    error = openai_error(client.post(SPEECH, request, format="json"), 400)
    assert error["param"] == param
    for word in words:
        assert word in error["message"], error["message"]


@pytest.mark.parametrize("value, kind", [(123, "the number 123"), (1.5, "the number 1.5"),
                                         (True, "true/false"), (["Hi."], "a list")])
def test_gen_text_that_is_not_a_string_is_a_type_error(client, value, kind):
    error = error_of(client.post(GENERATE, {"voice": "narrator", "gen_text": value},
                                 format="json"))
    assert (error["attr"], error["code"]) == ("gen_text", "not_text")
    assert kind in error["detail"] and "string" in error["detail"]
    error = error_of(client.post(GENERATE, {"voice": "narrator", "gen_text": "Hi.",
                                            "ref_text": value}, format="json"))
    assert (error["attr"], error["code"]) == ("ref_text", "not_text")


def test_v1_input_that_is_a_number_is_a_type_error(client):
    error = openai_error(client.post(SPEECH, {"model": "tts-1", "input": 123,
                                              "voice": "narrator"}, format="json"), 400)
    assert (error["param"], error["code"]) == ("input", "not_text")


def test_text_that_is_a_string_still_works(client, form):
    response = client.post(GENERATE, form(gen_text="123"), format="multipart")
    assert response.status_code == 200, response.content
