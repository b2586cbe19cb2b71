"""The docs pages' curl and Python examples, run against one live demo server: docs cannot
drift. The README's examples are copies of examples on the pages, so they are run too."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from tests.support.server import ROOT

pytestmark = pytest.mark.e2e
DOC_URL = "http://127.0.0.1:8000"
AUDIO_SUFFIXES = {".wav", ".mp3", ".flac", ".ogg"}
START, END = "<!-- examples:start -->", "<!-- examples:end -->"
CODE = re.compile(r"```(bash|python)\n(.*?)```", flags=re.S)


def page_examples(path: Path) -> list[tuple[str, str]]:
    """(language, code) of every bash and Python block between the page's example markers."""
    text = path.read_text(encoding="utf-8")
    found = []
    for region in text.split(START)[1:]:
        assert END in region, f"{path}: {START} without {END}"
        found += CODE.findall(region.split(END, 1)[0])
    return found


PAGES = sorted((ROOT / "docs").rglob("*.md"))
EXAMPLES = [(path.relative_to(ROOT).as_posix(), language, code)
            for path in PAGES for language, code in page_examples(path)]


def test_the_api_guide_has_curl_and_python_examples_on_every_page():
    for path in (ROOT / "docs" / "api").glob("*.md"):
        if path.name == "errors.md":
            continue
        languages = {language for language, _ in page_examples(path)}
        assert languages == {"bash", "python"}, f"{path.name}: curl and Python examples, run"
    languages = [language for _, language, _ in EXAMPLES]
    assert languages.count("bash") >= 5 and languages.count("python") >= 4
    assert all(DOC_URL in code for _, _, code in EXAMPLES)


def test_the_readme_examples_are_copies_of_examples_the_tests_run():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = [code for _, code in CODE.findall(readme)
              if f"{DOC_URL}/api/" in code or f"{DOC_URL}/v1" in code]
    assert len(blocks) >= 3
    run = {code for _, _, code in EXAMPLES}
    for code in blocks:
        assert code in run, f"README example not on a docs page:\n{code}"


@pytest.mark.parametrize("page, language, code", EXAMPLES,
                         ids=[f"{page.removeprefix('docs/')}-{n}"
                              for n, (page, _, _) in enumerate(EXAMPLES)])
def test_docs_example_runs(tts_server, ref_wav, tmp_path, page, language, code):
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
