"""The OpenAPI schema validates without warnings and the docs pages answer."""

import pytest
from django.core.management import call_command


def test_schema_validates_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    for needle in ("/api/tts/generate/", "multipart/form-data", "application/json", "audio/*",
                   "'413'", "'503'", "maximum: 2.0", "minimum: 0.3"):
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
    assert "cdn.jsdelivr.net" not in html  # served from the sidecar package: works offline


def test_swagger_assets_are_served(client):
    html = client.get("/api/docs/").content.decode()
    import re

    script = re.search(r'src="([^"]*swagger-ui-bundle\.js)"', html).group(1)
    response = client.get(script)
    assert response.status_code == 200
