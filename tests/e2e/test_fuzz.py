"""Schemathesis against the live server's own OpenAPI document (issue 11, item 8): generated
requests of every operation, file uploads included, positive and negative. Zero 5xx, and every
response conforms to the schema (status codes, content types, bodies, declared headers).

Bounded: a fixed number of examples per operation, no shrinking, a per-request timeout.
Generated voice ids name no saved voice, so a second test sends the voice operations (and
/v1/audio/speech) with a real saved voice, to check their successful replies too."""

from __future__ import annotations

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.audio import REF_TEXT

pytestmark = pytest.mark.e2e

EXAMPLES_PER_OPERATION = 20  # per operation and mode
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance]
VOICE = "fuzz-saved-voice"


def api_schema(server):
    return schemathesis.openapi.from_url(f"{server.url}/api/schema/")


def test_api_conforms_to_its_schema(tts_server):
    operations = [result.ok() for result in api_schema(tts_server).get_all_operations()]
    assert {op.path for op in operations} >= {
        "/api/tts/generate/", "/api/tts/models/", "/api/tts/voices/",
        "/api/tts/voices/{voice_id}/", "/v1/audio/speech", "/v1/audio/voices", "/v1/models"}
    for operation in operations:
        for mode in GenerationMode:  # schema-valid data, then data the schema forbids
            fuzz(operation, mode)


def fuzz(operation, mode: GenerationMode) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
              database=None)
    def run(case):
        case.call_and_validate(checks=CHECKS, timeout=120)

    try:
        run()
    except Unsatisfiable:
        # Nothing the schema forbids can be sent to an operation without inputs (health).
        assert mode is GenerationMode.NEGATIVE, operation.path


def test_saved_voice_replies_conform(tts_server, ref_bytes):
    schema = api_schema(tts_server)

    def check(method: str, path: str, **case) -> None:
        response = schema[path][method].Case(**case).call_and_validate(checks=CHECKS, timeout=120)
        assert response.status_code < 300, (method, path, response.status_code, response.text)

    created = requests.post(f"{tts_server.url}/api/tts/voices/", timeout=120, files={
        "ref_audio": ("voice.wav", ref_bytes, "audio/wav")}, data={
        "id": VOICE, "name": "Fuzz", "ref_text": REF_TEXT, "consent": "Test clip."})
    assert created.status_code == 201, created.text
    voice = {"voice_id": VOICE}
    try:
        check("GET", "/api/tts/voices/")
        check("GET", "/api/tts/voices/{voice_id}/", path_parameters=voice)
        check("GET", "/api/tts/voices/{voice_id}/clip/", path_parameters=voice)
        check("PATCH", "/api/tts/voices/{voice_id}/", path_parameters=voice,
              body={"description": "Checked against the schema."},
              media_type="application/json")
        speak = {"voice": VOICE, "gen_text": "Hello there.", "nfe_step": 4}
        for extra in ({}, {"query": {"response": "audio"}},
                      {"headers": {"Accept": "text/event-stream"}}):
            check("POST", "/api/tts/generate/", media_type="application/json", body=speak,
                  **extra)
        check("GET", "/v1/audio/voices")
        for extra in ({"response_format": "wav"}, {"response_format": "pcm"},
                      {"stream_format": "sse"}):
            check("POST", "/v1/audio/speech", media_type="application/json", body={
                "model": "tts-1", "input": "Hello there.", "voice": VOICE, "nfe_step": 4,
                **extra})
    finally:
        check("DELETE", "/v1/audio/voices/{voice_id}", path_parameters=voice)
