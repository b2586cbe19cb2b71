"""The curl and Python snippets on the docs page, as the live server serves them, run."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import requests
import soundfile as sf

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
