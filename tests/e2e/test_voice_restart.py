"""A saved voice survives a server restart without being decoded or transcribed again."""

from __future__ import annotations

import pytest
import requests

from tests.support.asr import REF_WORDS, whisper_model_path
from tests.support.server import LiveServer
from tests.support.speech import words

pytestmark = pytest.mark.e2e


def test_a_voice_works_after_a_restart_without_speech_recognition(tiny_dir, tmp_path, ref_wav):
    # The database and the media folder outlive the server's own (temporary) var folder.
    server = LiveServer(tiny_dir / "models.toml", extra_env={
        "TTS_ASR_MODEL": whisper_model_path(), "MEDIA_ROOT": str(tmp_path / "media"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}).start()
    try:
        with ref_wav.open("rb") as clip:
            reply = requests.post(f"{server.url}/api/tts/voices/", files={"ref_audio": clip},
                                  data={"id": "kept", "name": "Kept", "consent": "yes"},
                                  timeout=120)
        assert reply.status_code == 201, reply.text
        assert REF_WORDS.issubset(words(reply.json()["ref_text"]))  # recognised
        before = generate(server)
    finally:
        server.stop()

    server.start()  # same database and media folder, a new process
    try:
        assert not health(server)["asr"]["loaded"]
        after = generate(server)
        # Speech recognition was never loaded, so never ran; the audio is the same.
        assert not health(server)["asr"]["loaded"]
        assert after == before
    finally:
        server.stop()


def generate(server) -> bytes:
    reply = requests.post(f"{server.url}/api/tts/generate/?response=audio", json={
        "voice": "kept", "gen_text": "Still here after a restart.", "nfe_step": 4, "seed": 9},
        timeout=120)
    assert reply.status_code == 200, reply.text
    return reply.content


def health(server) -> dict:
    return requests.get(f"{server.url}/api/tts/health/", timeout=10).json()
