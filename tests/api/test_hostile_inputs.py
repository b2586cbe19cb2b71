"""Found by fuzzing from outside (issue 11, item 10): each now a 4xx in the usual shape."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.support.audio import REF_TEXT
from tests.support.helpers import GENERATE, error_of


def test_deeply_nested_json_is_a_400_not_a_recursion_error(client):
    body = '{"gen_text": ' + "[" * 1000 + "]" * 1000 + "}"
    response = client.post(GENERATE, body, content_type="application/json")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "parse_error" and "nested too deeply" in error["detail"]


def test_more_than_1000_form_fields_is_a_400(client):
    response = client.post(GENERATE, {f"field{i}": "x" for i in range(1001)})
    assert response.status_code == 400
    assert error_of(response)["code"] == "too_many_fields"


def test_more_than_100_file_parts_is_a_400(client):
    files = {f"file{i}": SimpleUploadedFile(f"{i}.wav", b"x") for i in range(101)}
    response = client.post(GENERATE, files)
    assert response.status_code == 400
    assert error_of(response)["code"] == "too_many_files"


def test_a_repeated_form_field_is_refused(client, form):
    response = client.post(GENERATE, form(seed=["1", "2"]))
    assert response.status_code == 400
    error = error_of(response)
    assert (error["attr"], error["code"]) == ("seed", "duplicate_field")


def test_a_repeated_json_key_is_refused(client):
    body = '{"gen_text": "one", "ref_text": "x", "ref_audio": "AAAA", "gen_text": "two"}'
    response = client.post(GENERATE, body, content_type="application/json")
    assert response.status_code == 400
    error = error_of(response)
    assert (error["attr"], error["code"]) == ("gen_text", "duplicate_field")


@pytest.mark.parametrize("text", ["🙂🙂🙂", "... !!! ???", "\u200b\u200b\u200d", "— * —"])
def test_gen_text_with_nothing_speakable_is_a_400(client, form, text):
    response = client.post(GENERATE, form(gen_text=text))
    assert response.status_code == 400
    error = error_of(response)
    assert (error["attr"], error["code"]) == ("gen_text", "nothing_to_speak")


def test_numbers_alone_are_speakable(client, form):
    assert client.post(GENERATE, form(gen_text="42")).status_code == 200


def test_post_without_the_trailing_slash_is_served(client, form, ref_wav):
    response = client.post(GENERATE.rstrip("/"), form())
    assert response.status_code == 200, response.content
    assert response.json()["model"] == "tiny-f5"
    voice = client.post("/api/tts/voices", {
        "id": "slashless", "name": "S", "ref_audio": ref_wav.open("rb"), "ref_text": REF_TEXT,
        "consent": "Recorded for the tests."})
    assert voice.status_code == 201, voice.content
    job = client.post("/api/tts/jobs", {"voice": "slashless"}, format="json")  # no redirect:
    assert error_of(job)["attr"] == "gen_text"  # the view itself answers
    schema = client.get("/api/schema/").content.decode()  # YAML: a path per line
    assert "\n  /api/tts/jobs/:" in schema and "\n  /api/tts/jobs:" not in schema


@pytest.mark.parametrize("query", ["?response=xml", "?response=audio&response=json"])
def test_response_parameter_is_enforced(client, form, query):
    response = client.post(GENERATE + query, form())
    assert response.status_code == 400
    assert error_of(response)["attr"] == "response"


@pytest.mark.parametrize("value", ["null", "NULL", ""])
def test_seed_null_is_accepted_in_a_form(client, form, value):
    response = client.post(GENERATE, form(seed=value))
    assert response.status_code == 200, response.content
    assert isinstance(response.json()["seed"], int)


def test_seed_null_is_accepted_in_json(client, ref_bytes):
    import base64

    body = {"ref_audio": base64.b64encode(ref_bytes).decode(), "ref_text": REF_TEXT,
            "gen_text": "Null seed.", "nfe_step": 4, "seed": None}
    response = client.post(GENERATE, json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.content


# --- the schema says what the server does ----------------------------------------------------
def openapi(client) -> dict:
    return client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()


def generate_operation(schema: dict) -> dict:
    return schema["paths"]["/api/tts/generate/"]["post"]


def test_errors_are_only_json_and_declare_their_headers(client):
    responses = generate_operation(openapi(client))["responses"]
    for status, response in responses.items():
        assert "X-Request-ID" in response["headers"]
        if status[0] in "45":
            assert list(response["content"]) == ["application/json"], status
    assert "Retry-After" in responses["503"]["headers"]
    assert "Retry-After" in responses["429"]["headers"]


def test_declared_audio_headers_are_the_ones_sent(client, form):
    declared = {name for name in generate_operation(openapi(client))["responses"]["200"]["headers"]
                if name.startswith("X-") and name != "X-Request-ID"}
    reply = client.post(GENERATE + "?response=audio", form())
    assert reply.status_code == 200
    generic = {"X-Request-ID", "X-Content-Type-Options", "X-Frame-Options"}
    sent = {name for name in reply.headers if name.startswith("X-") and name not in generic}
    # X-Voice-Similarity comes only with `similarity` (tests/api/test_similarity.py).
    assert declared - {"X-Voice-Similarity"} == sent


def test_request_bodies_refuse_unknown_fields_and_state_the_text_limit(client, settings):
    settings.TTS_MAX_TEXT_CHARS = 1234
    schemas = openapi(client)["components"]["schemas"]
    for name in ("GenerateMultipartRequest", "GenerateJsonRequest"):
        assert schemas[name]["additionalProperties"] is False
        assert schemas[name]["properties"]["gen_text"]["maxLength"] == 1234


def test_ref_text_is_required_with_a_clip_only_without_asr(client, settings):
    body = openapi(client)["components"]["schemas"]["GenerateJsonRequest"]
    ref_text = body["properties"]["ref_text"]
    assert ref_text["minLength"] == 1 and "Required with `ref_audio`" in ref_text["description"]
    # Not required as such: a request with a saved voice sends none.
    assert "ref_text" not in body["required"]
    settings.TTS_ASR_MODEL = "small"
    body = openapi(client)["components"]["schemas"]["GenerateJsonRequest"]
    assert "minLength" not in body["properties"]["ref_text"]


def test_security_follows_the_key_setting(client, settings):
    settings.TTS_REQUIRE_API_KEY = False
    schema = openapi(client)
    assert "security" not in generate_operation(schema), "no padlock where no key is needed"
    assert "securitySchemes" not in schema["components"] and "security" not in schema
    settings.TTS_REQUIRE_API_KEY = True
    schema = openapi(client)
    assert {} not in generate_operation(schema)["security"]
    assert set(schema["components"]["securitySchemes"]) == {"bearerAuth", "apiKeyHeader"}
