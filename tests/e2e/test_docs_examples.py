"""The curl and Python snippets on the docs page, as the live server serves them, run."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import requests
import soundfile as sf

from tests.support.audio import REF_TEXT

pytestmark = pytest.mark.e2e


def generate_snippets(server) -> list[tuple[str, str]]:
    schema = requests.get(f"{server.url}/api/schema/", timeout=30,
                          headers={"Accept": "application/vnd.oai.openapi+json"}).json()
    description = schema["paths"]["/api/tts/generate/"]["post"]["description"]
    return re.findall(r"```(bash|python)\n(.*?)```", description, flags=re.S)


def test_docs_snippets_name_this_server_and_run(tts_server, ref_wav, tmp_path):
    snippets = generate_snippets(tts_server)
    assert [language for language, _ in snippets] == ["bash", "python"]
    (tmp_path / "voice.wav").write_bytes(ref_wav.read_bytes())
    for language, code in snippets:
        assert f"{tts_server.url}/api/tts/generate/" in code, code
        command = (["bash", "-euo", "pipefail", "-c", code] if language == "bash"
                   else [sys.executable, "-c", code])
        done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        if language == "bash":
            info = sf.info(str(tmp_path / "speech.wav"))
            assert info.samplerate == 24000 and info.duration > 0.2
        else:
            seed, duration = done.stdout.split()
            assert int(seed) >= 0 and float(duration) > 0.2


def test_documented_events_have_the_fields_the_server_sends(tts_server, ref_bytes):
    schema = requests.get(f"{tts_server.url}/api/schema/", timeout=30,
                          headers={"Accept": "application/vnd.oai.openapi+json"}).json()
    content = schema["paths"]["/api/tts/generate/"]["post"]["responses"]["200"]["content"]
    (example,) = content["text/event-stream"]["examples"].values()
    documented = events(example["value"])
    reply = requests.post(
        f"{tts_server.url}/api/tts/generate/", headers={"Accept": "text/event-stream"},
        data={"ref_text": REF_TEXT, "gen_text": "Hello! This is my cloned voice speaking.",
              "nfe_step": 4}, files={"ref_audio": ("voice.wav", ref_bytes, "audio/wav")},
        timeout=120)
    assert reply.status_code == 200, reply.text
    sent = events(reply.text)
    assert [name for name, _ in sent][-1] == "done"
    assert {name for name, _ in sent} == {name for name, _ in documented}
    chunk, done = (json.loads(data) for data in (sent[0][1], sent[-1][1]))
    documented_chunk, documented_done = (json.loads(data) for data in (documented[0][1],
                                                                       documented[-1][1]))
    assert set(chunk) == set(documented_chunk)
    assert set(done) == set(documented_done)
    assert done["model"] == documented_done["model"] == "tiny-f5"


def events(text: str) -> list[tuple[str, str]]:
    """(name, data) of each event in a text/event-stream body."""
    found = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        found.append((fields["event"], fields["data"]))
    return found
