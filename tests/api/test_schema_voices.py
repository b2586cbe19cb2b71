"""Saved voices and the OpenAI-compatible endpoints are in the OpenAPI document, each with
examples, and /v1 documents OpenAI's error shape."""

import pytest

NEW_OPERATIONS = [
    ("/api/tts/voices/", "get"), ("/api/tts/voices/", "post"),
    ("/api/tts/voices/{voice_id}/", "get"), ("/api/tts/voices/{voice_id}/", "patch"),
    ("/api/tts/voices/{voice_id}/", "delete"), ("/api/tts/voices/{voice_id}/clip/", "get"),
    ("/v1/audio/speech", "post"), ("/v1/audio/voices", "get"), ("/v1/audio/voices", "post"),
    ("/v1/audio/voices/{voice_id}", "delete"), ("/v1/models", "get"),
    ("/v1/models/{model_id}", "get"),
]


@pytest.fixture(scope="module")
def schema(django_db_setup, django_db_blocker):
    from rest_framework.test import APIClient

    with django_db_blocker.unblock():  # the /v1 example names a saved voice when there is one
        response = APIClient().get("/api/schema/",
                                   HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def examples_of(operation: dict) -> list[str]:
    found = [f"request {media}" for media, content in
             operation.get("requestBody", {}).get("content", {}).items()
             if content.get("examples")]
    for status, response in operation["responses"].items():
        found += [f"{status} {media}" for media, content in response.get("content", {}).items()
                  if content.get("examples")]
    return found


@pytest.mark.parametrize(("path", "method"), NEW_OPERATIONS)
def test_every_new_operation_is_documented_with_examples(schema, path, method):
    operation = schema["paths"][path][method]
    assert operation.get("summary") and operation.get("tags")
    examples = examples_of(operation)
    assert examples, f"{method} {path} has no example"
    success = [s for s in operation["responses"] if s.startswith("2")]
    json_success = [s for s in success
                    if "application/json" in operation["responses"][s].get("content", {})]
    for status in json_success:
        assert f"{status} application/json" in examples, (path, method, status)


def test_generate_documents_voice_and_segments(schema):
    components = schema["components"]["schemas"]
    assert "voice" in components["GenerateMultipartRequest"]["properties"]
    assert "voice" in components["GenerateJsonRequest"]["properties"]
    assert "ref_audio" not in components["GenerateJsonRequest"].get("required", [])
    assert "segments" in components["GenerateOutput"]["properties"]


def test_v1_errors_are_documented_in_openai_shape(schema):
    speech = schema["paths"]["/v1/audio/speech"]["post"]
    ref = speech["responses"]["404"]["content"]["application/json"]["schema"]["$ref"]
    error = schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    assert set(error["properties"]) == {"error"}
    body = speech["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    fields = schema["components"]["schemas"][body.rsplit("/", 1)[-1]]["properties"]
    assert {"model", "input", "voice", "response_format", "speed", "instructions",
            "stream_format"} <= set(fields)
    assert (fields["speed"]["minimum"], fields["speed"]["maximum"]) == (0.25, 4.0)
