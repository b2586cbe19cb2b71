"""The OpenAPI schema validates without warnings, its examples are this server's own, and
the docs pages answer with nothing from other hosts. (tests/e2e/test_docs_browser.py uses
the pages in a real browser.)"""

import base64
import json
import re

import pytest
from django.core.management import call_command

from tests.support.helpers import GENERATE, error_of

OPENAPI_JSON = "application/vnd.oai.openapi+json"
PLACEHOLDER = "<base64 of a 3-12 s wav/mp3/m4a clip>"


def openapi(client, host: str = "testserver") -> dict:
    return client.get("/api/schema/", HTTP_ACCEPT=OPENAPI_JSON, HTTP_HOST=host).json()


def generate_operation(schema: dict) -> dict:
    return schema["paths"][GENERATE]["post"]


def example_values(content: dict) -> dict:
    return {name: example["value"] for name, example in content["examples"].items()}


def test_schema_validates_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    for needle in ("/api/tts/generate/", "multipart/form-data", "application/json", "audio/*",
                   "'413'", "'503'", "maximum: 2.0", "minimum: 0.3",
                   # without a request, the snippets name the address `make serve` uses
                   "curl -X POST http://127.0.0.1:8000/api/tts/generate/"):
        assert needle in text, needle


def test_schema_documents_every_generate_field(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    body = schema["components"]["schemas"]["GenerateMultipartRequest"]
    assert set(body["properties"]) >= {
        "ref_audio", "ref_text", "gen_text", "model", "speed", "cross_fade_duration",
        "remove_silence", "nfe_step", "cfg_strength", "sway_sampling_coef", "seed",
        "output_format"}
    assert body["properties"]["ref_audio"]["format"] == "binary"
    for name, prop in body["properties"].items():
        assert prop.get("description"), name
    speed = body["properties"]["speed"]
    assert (speed["minimum"], speed["maximum"], speed["default"]) == (0.3, 2.0, 1.0)


@pytest.mark.parametrize("path, needle", [
    ("/api/docs/", "swagger-ui"), ("/api/redoc/", "redoc"),
])
def test_docs_pages_answer_with_local_assets(client, path, needle):
    response = client.get(path)
    assert response.status_code == 200
    html = response.content.decode()
    assert needle in html.lower()
    # Scripts, styles, fonts and icons all come from this server (the sidecar package).
    assert re.findall(r'(?:src|href)="(?:https?:)?//', html) == []
    assert "fonts.googleapis.com" not in html
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        assert client.get(asset).status_code == 200, asset


def test_swagger_assets_are_served(client):
    html = client.get("/api/docs/").content.decode()
    script = re.search(r'src="([^"]*swagger-ui-bundle\.js)"', html).group(1)
    response = client.get(script)
    assert response.status_code == 200


def test_examples_name_this_servers_address_and_models(client, settings):
    settings.ALLOWED_HOSTS = ["tts.example.org", "testserver"]
    schema = openapi(client, host="tts.example.org:8443")
    operation = generate_operation(schema)
    assert "curl -X POST http://tts.example.org:8443/api/tts/generate/" in (
        operation["description"])
    assert '"http://tts.example.org:8443/api/tts/generate/"' in operation["description"]
    assert "127.0.0.1:8000" not in json.dumps(schema)
    assert not re.search(r"\{(server|default_model|max_queue|\w+_detail)\}", json.dumps(schema))

    (request,) = example_values(operation["requestBody"]["content"]["application/json"]).values()
    assert request["model"] == "tiny-f5"  # the default of this server, not upstream's F5-TTS
    (reply,) = example_values(operation["responses"]["200"]["content"]["application/json"]
                              ).values()
    assert reply["model"] == "tiny-f5"

    # The error examples say exactly what this server says.
    (unknown,) = example_values(operation["responses"]["404"]["content"]["application/json"]
                                ).values()
    actual = client.get("/api/tts/models/F6/")
    assert actual.status_code == 404
    assert unknown["errors"][0]["detail"] == error_of(actual)["detail"]
    assert "tiny-f5, tiny-e2" in unknown["errors"][0]["detail"]
    unavailable = example_values(operation["responses"]["503"]["content"]["application/json"])
    reasons = [model["reason"] for model in client.get("/api/tts/models/").json()
               if model["status"] == "unavailable"]
    assert unavailable["WeightsMissing"]["errors"][0]["detail"] in reasons

    model = schema["components"]["schemas"]["GenerateMultipartRequest"]["properties"]["model"]
    assert "This server serves: tiny-f5, tiny-e2; its default is tiny-f5." in (
        model["description"])


def test_form_starts_ready_to_send(client):
    form = openapi(client)["components"]["schemas"]["GenerateMultipartRequest"]
    props = form["properties"]
    assert next(iter(props)) == "ref_audio"  # the clip first, as the form shows it
    assert props["ref_text"]["example"] and props["gen_text"]["example"]
    # An empty seed field (null on the wire): no fixed number that every run would reuse.
    assert props["seed"]["example"] == "" and "default" not in props["seed"]


def test_operation_ids_make_clean_deep_links(client):
    """Swagger UI's deep links (#/tag/operationId) warn about underscores."""
    schema = openapi(client)
    ids = [operation["operationId"] for methods in schema["paths"].values()
           for operation in methods.values()]
    assert ids and all(re.fullmatch(r"[A-Za-z0-9]+", op_id) for op_id in ids), ids


def test_json_example_as_shipped_runs(client, ref_bytes):
    content = generate_operation(openapi(client))["requestBody"]["content"]["application/json"]
    (example,) = example_values(content).values()
    assert example["ref_audio"] == PLACEHOLDER
    body = {**example, "ref_audio": base64.b64encode(ref_bytes).decode("ascii")}
    response = client.post(GENERATE, body, format="json")
    assert response.status_code == 200, response.content
    reply = response.json()
    assert (reply["model"], reply["format"], reply["seed"]) == (
        example["model"], example["output_format"], example["seed"])


def test_raw_audio_is_an_attachment_with_a_name(client, form):
    response = client.post(GENERATE, form(), format="multipart", HTTP_ACCEPT="audio/*")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="speech.wav"'


def test_favicon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    icon = client.get(response["Location"])
    assert icon.status_code == 200 and icon["Content-Type"] == "image/svg+xml"
