"""Operations against the real server: keys issued by the management command, audit export,
/metrics scraped over HTTP, hostile bodies answered in the usual shape."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.support.audio import REF_TEXT
from tests.support.server import ROOT

pytestmark = pytest.mark.e2e


def manage(server, *args: str) -> str:
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=server.env(),
                          capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


def generate(server, ref_bytes, path="/api/tts/generate/", **headers):
    return requests.post(f"{server.url}{path}", timeout=120, headers=headers,
                         data={"ref_text": REF_TEXT, "gen_text": "Operations.", "nfe_step": 4},
                         files={"ref_audio": ("voice.wav", ref_bytes, "audio/wav")})


def generations(server) -> float:
    text = requests.get(f"{server.url}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "tts_generations_total" and sample.labels == {"model": "tiny-f5"}:
                return sample.value
    return 0.0


def test_issued_key_is_accepted_audited_and_counted(tts_server, ref_bytes):
    raw = manage(tts_server, "apikeys", "create", "e2e").strip()
    prefix = raw.partition(".")[0]
    before = generations(tts_server)
    reply = generate(tts_server, ref_bytes, Authorization=f"Bearer {raw}")
    assert reply.status_code == 200, reply.text
    assert generations(tts_server) == before + 1
    wrong = requests.get(f"{tts_server.url}/api/tts/models/", timeout=10,
                         headers={"X-API-Key": raw + "x"})
    assert wrong.status_code == 401 and wrong.json()["errors"][0]["code"] == "invalid_api_key"
    rows = list(csv.DictReader(io.StringIO(manage(tts_server, "export_audit", "--key",
                                                  prefix))))
    assert [row["action"] for row in rows] == ["key_create", "generate"]  # the key's issue too
    used = rows[1]
    assert used["outcome"] == "ok" and used["model"] == "tiny-f5"
    assert float(used["audio_seconds"]) == pytest.approx(reply.json()["duration"])


def test_post_without_slash_and_deep_json_over_http(tts_server, ref_bytes):
    assert generate(tts_server, ref_bytes, path="/api/tts/generate").status_code == 200
    deep = requests.post(f"{tts_server.url}/api/tts/generate/", timeout=30,
                         data='{"gen_text": ' + "[" * 1000 + "]" * 1000 + "}",
                         headers={"Content-Type": "application/json"})
    assert deep.status_code == 400 and deep.json()["errors"][0]["code"] == "parse_error"


def test_start_up_objects_are_frozen_once_the_server_is_ready(tts_server):
    # tts/services/memory.py: request garbage is then collected soon (docs/performance.md, soak).
    deadline = time.monotonic() + 30
    while "start-up objects frozen" not in tts_server.log_text():
        assert time.monotonic() < deadline, tts_server.log_tail()
        time.sleep(0.5)
