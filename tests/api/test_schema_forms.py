"""What the docs page's forms start with (Swagger UI fills a form from each property's
`example`, else its default, else a sample: "string", the largest seed, nfe_step 64)."""

from __future__ import annotations

import pytest

from tts.api.schema import FORM_BODIES
from tts.models import Voice

pytestmark = pytest.mark.django_db


def openapi(client) -> dict:
    return client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()


def json_example(schema: dict, path: str, method: str) -> dict:
    content = schema["paths"][path][method]["requestBody"]["content"]["application/json"]
    return next(iter(content["examples"].values()))["value"]


def test_every_form_field_starts_from_a_real_value_or_empty(client):
    schemas = openapi(client)["components"]["schemas"]
    for name in FORM_BODIES:
        for field, prop in schemas[name]["properties"].items():
            if prop.get("format") == "binary":
                continue
            start = prop.get("example", prop.get("default"))
            assert start is not None, f"{name}.{field} would be sampled ({prop})"
            assert start != "string", f"{name}.{field}"
        assert next(iter(schemas[name]["properties"])) in ("ref_audio", "name"), name
    for name in ("GenerateMultipartRequest", "JobMultipartRequest"):
        props = schemas[name]["properties"]
        assert props["seed"]["example"] == "" and props["nfe_step"]["example"] == "", (
            "no fixed seed and no step count over the quality preset")
    voice = schemas["VoiceCreateMultipartRequest"]["properties"]
    assert voice["name"]["example"] and voice["consent"]["example"]
    assert voice["id"]["example"] == "", "the id is derived from the name"


def test_json_bodies_have_examples_that_need_no_editing_but_the_clip(client):
    schema = openapi(client)
    job = json_example(schema, "/api/tts/jobs/", "post")
    assert "seed" not in job and job["gen_text"] and job["model"] == "tiny-f5"
    assert "string" not in json_example(schema, "/api/tts/voices/{voice_id}/", "patch").values()


def test_the_openai_example_names_a_voice_this_server_has(client):
    assert json_example(openapi(client), "/v1/audio/speech", "post")["voice"] == "narrator"
    Voice.objects.create(slug="first-voice", name="First", consent="Agreed.", ref_text="Hi.",
                         duration=3.0, ref_clip={})
    Voice.objects.create(slug="second-voice", name="Second", consent="Agreed.", ref_text="Hi.",
                         duration=3.0, ref_clip={})
    assert json_example(openapi(client), "/v1/audio/speech", "post")["voice"] == "first-voice"
