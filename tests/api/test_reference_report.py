"""The reference report through the API: generate with an upload, saved voices (kept across a
restart), strict mode, and the existing errors for clips that cannot serve."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.support.defects import FIRST, SECOND, clean, defective
from tests.support.helpers import GENERATE, error_of, reset_engine

pytestmark = pytest.mark.django_db
VOICES = "/api/tts/voices/"
TEXT = f"{FIRST} {SECOND}"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "voice-media")


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("report-clips")
    made = {}
    for name in ("clean", "tones", "second_voice"):
        sub = folder / name
        sub.mkdir()
        made[name] = clean(sub) if name == "clean" else defective(sub, name)
    return made


def upload(path: Path) -> SimpleUploadedFile:
    return SimpleUploadedFile(path.name, path.read_bytes())


def generate(client, path: Path, **fields):
    body = {"ref_audio": upload(path), "ref_text": TEXT, "gen_text": "Hello there.",
            "nfe_step": 4, "seed": 1, **fields}
    return client.post(GENERATE, body, format="multipart")


def create(client, path: Path, **fields):
    body = {"name": "Narrator", "ref_audio": upload(path), "ref_text": TEXT,
            "consent": "The speaker agreed in writing.", **fields}
    return client.post(VOICES, body, format="multipart")


def codes(report: dict) -> set[str]:
    return {finding["code"] for finding in report["findings"]}


def test_generate_with_an_upload_reports_on_the_clip(client, clips):
    body = generate(client, clips["tones"]).json()
    report = body["reference_report"]
    assert "music_or_tone" in codes(report) and report["severity"] == "severe"
    assert "record without music" in report["findings"][0]["detail"]
    clean_body = generate(client, clips["clean"]).json()
    assert clean_body["reference_report"]["severity"] == "ok"


def test_a_saved_voice_keeps_its_report_across_a_restart(client, clips):
    response = create(client, clips["second_voice"], id="duo")
    assert response.status_code == 201, response.content[:2000]
    assert "multiple_speakers" in codes(response.json()["reference_report"])
    reset_engine()  # a new process: the report comes back from the database
    shown = client.get(f"{VOICES}duo/").json()
    assert shown["reference_report"] == response.json()["reference_report"]
    # The voiceprint was stored with the prepared reference: similarity works from it.
    body = client.post(GENERATE, {"voice": "duo", "gen_text": "Hello there.", "nfe_step": 4,
                                  "similarity": True}, format="json").json()
    assert "similarity" in body and "reference_report" not in body


def test_severe_findings_are_warnings_unless_the_operator_is_strict(client, clips, settings):
    assert generate(client, clips["tones"]).status_code == 200
    settings.TTS_REFERENCE_STRICT = True
    for response in (generate(client, clips["tones"]), create(client, clips["tones"])):
        assert response.status_code == 400, response.content[:2000]
        error = error_of(response)
        assert error["code"] == "reference_music_or_tone" and error["attr"] == "ref_audio"
        assert "music" in error["detail"]
    assert generate(client, clips["clean"]).status_code == 200


def test_silent_and_undecodable_clips_keep_their_errors(client, tmp_path):
    import numpy as np
    import soundfile as sf

    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(24000 * 4, dtype=np.float32), 24000)
    assert error_of(generate(client, silent))["code"] == "reference_silent"
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not audio at all" * 100)
    assert error_of(generate(client, junk))["code"] == "undecodable_audio"
