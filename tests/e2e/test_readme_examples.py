"""The README's curl and Python examples, run against the live server: docs cannot drift."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import soundfile as sf

from tests.support.server import ROOT

pytestmark = pytest.mark.e2e
DOC_URL = "http://127.0.0.1:8000"
AUDIO_SUFFIXES = {".wav", ".mp3", ".flac", ".ogg"}


def readme_examples() -> list[tuple[str, str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("<!-- examples:start -->", 1)[1].split("<!-- examples:end -->", 1)[0]
    return re.findall(r"```(bash|python)\n(.*?)```", section, flags=re.S)


EXAMPLES = readme_examples()


def test_the_readme_has_curl_and_python_examples():
    languages = [language for language, _ in EXAMPLES]
    assert languages.count("bash") >= 3 and languages.count("python") >= 2
    assert all(DOC_URL in code for _, code in EXAMPLES)


@pytest.mark.parametrize("language, code", EXAMPLES,
                         ids=[f"{lang}-{n}" for n, (lang, _) in enumerate(EXAMPLES)])
def test_readme_example_runs(tts_server, ref_wav, tmp_path, language, code):
    (tmp_path / "voice.wav").write_bytes(ref_wav.read_bytes())
    code = code.replace(DOC_URL, tts_server.url)
    command = (["bash", "-euo", "pipefail", "-c", code] if language == "bash"
               else [sys.executable, "-c", code])
    before = set(tmp_path.iterdir())
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    audio = [path for path in set(tmp_path.iterdir()) - before
             if path.suffix in AUDIO_SUFFIXES]
    for path in audio:
        info = sf.info(str(path))
        assert info.samplerate == 24000 and info.duration > 0.2, path.name
    if not audio:  # listing and health examples print JSON documents
        documents = json_documents(done.stdout)
        assert documents, "the example neither wrote audio nor printed anything"


def json_documents(text: str) -> list:
    """Every JSON document in ``text`` (curl prints them back to back); fails on anything else."""
    decoder, documents, position = json.JSONDecoder(), [], 0
    while (position := len(text) - len(text[position:].lstrip())) < len(text):
        document, position = decoder.raw_decode(text, position)
        documents.append(document)
    return documents
