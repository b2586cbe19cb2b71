"""The studio page as the server renders it (in a browser: tests/e2e/test_studio_browser.py)."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db


def page_config(html: str) -> dict:
    match = re.search(r'<script id="studio-config" type="application/json">(.*?)</script>', html,
                      re.S)
    assert match, "the page carries its configuration as JSON"
    return json.loads(match.group(1))


def test_studio_is_served_at_the_root_with_a_strict_policy(client, settings):
    settings.TTS_REQUIRE_API_KEY = False
    response = client.get("/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    policy = dict(part.strip().split(" ", 1) for part in response["Content-Security-Policy"]
                  .split(";"))
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["connect-src"] == "'self' blob:" and policy["frame-ancestors"] == "'none'"
    html = response.content.decode()
    assert "<script>" not in html and " style=" not in html, "nothing inline to allow"
    config = page_config(html)
    assert config["requireKey"] is False and config["defaultModel"] == "tiny-f5"
    assert config["jobThreshold"] <= settings.TTS_MAX_TEXT_CHARS


def test_every_asset_is_local_and_exists(client):
    html = client.get("/").content.decode()
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert urls and not [url for url in urls if "//" in url], "nothing from another host"
    assets = [url for url in urls if url.startswith("/static/")]
    assert {url.rsplit(".", 1)[1] for url in assets} >= {"js", "css", "svg"}
    for url in assets:
        assert finders.find(url.removeprefix("/static/")), url


def test_keys_required_makes_the_page_ask_for_one(client, settings):
    settings.TTS_REQUIRE_API_KEY = True
    response = client.get("/")
    assert response.status_code == 200, "the page itself needs no key"
    assert page_config(response.content.decode())["requireKey"] is True


def test_operators_can_turn_the_studio_off(client, settings):
    settings.TTS_STUDIO = False
    response = client.get("/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert client.get("/api/tts/health/").status_code == 200


def test_the_page_speaks_only_to_the_public_api():
    script = finders.find("tts/studio/studio.js")
    with open(script, encoding="utf-8") as source:
        code = source.read()
    assert "http://" not in code and "https://" not in code
    assert set(re.findall(r"`\$\{API\}/([a-z]+)/", code)) <= {"generate", "voices", "jobs",
                                                              "models"}
