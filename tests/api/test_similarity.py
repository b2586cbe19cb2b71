"""Speaker similarity in replies, streams and jobs, and the guard's similarity check.

The tiny random models make noise, so speech comes from the test-only backend that speaks each
chunk with espeak-ng (tests/support/speaking.py) in the reference clip's espeak voice, or, on a
chunk's first attempt, in another voice. The speaker encoder is the real one (Resemblyzer's
GE2E weights from its wheel), so the scores are real.
"""

from __future__ import annotations

import re

import pytest

from tests.api.test_listen import TEXT
from tests.support.helpers import GENERATE
from tests.support.speaking import speaking_models


@pytest.fixture
def speaking(monkeypatch, settings):
    from tests.support.helpers import reset_engine

    settings.TTS_ASR_MODEL = ""  # similarity needs no speech recognition
    reset_engine()
    with speaking_models(monkeypatch):
        yield


@pytest.fixture
def drifting(monkeypatch, settings):
    """Speaking with ASR, each chunk's first attempt in another espeak voice."""
    from tests.support.asr import whisper_model_path
    from tests.support.helpers import reset_engine

    settings.TTS_ASR_MODEL = whisper_model_path()
    reset_engine()
    with speaking_models(monkeypatch, first_voice="en+f2"):
        yield


def test_json_reply_scores_every_chunk_and_the_whole_output(client, form, speaking):
    response = client.post(GENERATE, form(gen_text=TEXT, similarity=True), format="multipart")
    assert response.status_code == 200, response.content
    body = response.json()
    similarity = body["similarity"]
    assert len(similarity["chunks"]) == body["chunks"] >= 2
    # The same espeak voice as the reference clip: a high score, per chunk and overall.
    assert all(chunk["similarity"] > 0.7 for chunk in similarity["chunks"]), similarity
    assert similarity["similarity"] > 0.8
    metrics = client.get("/metrics").content.decode()
    assert re.search(r'tts_voice_similarity_count\{model="tiny-f5"\} [1-9]', metrics)


def test_similarity_is_absent_unless_asked_and_defaults_from_the_operator(client, form,
                                                                         speaking, settings):
    assert "similarity" not in client.post(GENERATE, form(), format="multipart").json()
    settings.TTS_SIMILARITY_DEFAULT = True
    assert "similarity" in client.post(GENERATE, form(), format="multipart").json()
    body = client.post(GENERATE, form(similarity=False), format="multipart").json()
    assert "similarity" not in body


def test_raw_audio_reply_has_the_similarity_header(client, form, speaking):
    response = client.post(GENERATE, form(similarity=True), format="multipart",
                           HTTP_ACCEPT="audio/wav")
    assert response.status_code == 200
    assert 0.8 < float(response["X-Voice-Similarity"]) <= 1.0
    plain = client.post(GENERATE, form(), format="multipart", HTTP_ACCEPT="audio/wav")
    assert "X-Voice-Similarity" not in plain


@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume")
def test_sse_chunk_events_and_done_carry_similarity(client, form, speaking):
    from tests.api.test_streaming import body_of, sse_events

    response = client.post(GENERATE, form(gen_text=TEXT, similarity=True), format="multipart",
                           HTTP_ACCEPT="text/event-stream")
    events = sse_events(body_of(response))
    chunks = [data for name, data in events if name == "chunk"]
    assert events[-1][0] == "done"
    done = events[-1][1]
    assert len(chunks) >= 2 and all(chunk["similarity"] > 0.7 for chunk in chunks)
    assert [c["similarity"] for c in done["similarity"]["chunks"]] == \
        [c["similarity"] for c in chunks]
    assert done["similarity"]["similarity"] > 0.8


def test_guard_regenerates_a_chunk_in_another_voice(client, form, drifting, settings):
    settings.TTS_VERIFY_MIN_SIMILARITY = 0.75
    text = "The farmer walked slowly to the market and bought fresh bread."
    response = client.post(GENERATE, form(gen_text=text, verify=True, similarity=True, seed=5),
                           format="multipart")
    assert response.status_code == 200, response.content
    body = response.json()
    verification = body["verification"]
    chunk = verification["chunks"][0]
    # The first attempt spoke in en+f2: intelligible, but not the reference's voice.
    assert chunk["attempts"] == 2 and chunk["seed"] == 6, verification
    assert chunk["passed"] is True and chunk["failed"] == []
    assert chunk["similarity"] >= 0.75 and verification["min_similarity"] == 0.75
    assert body["similarity"]["chunks"][0]["similarity"] == chunk["similarity"]


def test_guard_says_similarity_is_the_check_that_failed(client, form, drifting, settings):
    settings.TTS_VERIFY_MIN_SIMILARITY = 0.999  # nothing is that alike
    settings.TTS_VERIFY_RETRIES = 1
    text = "Everyone stayed inside and read books by the fire."
    body = client.post(GENERATE, form(gen_text=text, verify=True, seed=9),
                       format="multipart").json()
    chunk = body["verification"]["chunks"][0]
    assert chunk["attempts"] == 2 and chunk["passed"] is False
    assert chunk["failed"] == ["similarity"], chunk
    # The kept attempt is the better one: the default voice, not en+f2.
    assert chunk["seed"] == 10 and chunk["similarity"] > 0.75
    assert "similarity" not in body  # scored for the guard, reported in verification only


@pytest.mark.django_db(transaction=True)
def test_jobs_keep_similarity_and_serve_its_header(client, form, speaking):
    from tests.api.test_jobs import JOBS, wait_for

    reply = client.post(JOBS, form(gen_text=TEXT, similarity=True), format="multipart")
    assert reply.status_code == 202, reply.content
    job, _ = wait_for(client, reply.json()["id"], timeout=300)
    assert job["status"] == "succeeded", job
    similarity = job["output"]["similarity"]
    assert similarity["similarity"] > 0.8 and len(similarity["chunks"]) >= 2
    audio = client.get(f"{JOBS}{job['id']}/audio/")
    assert float(audio["X-Voice-Similarity"]) == similarity["similarity"]



@pytest.mark.django_db
def test_a_script_scores_each_part_against_its_own_voice(client, ref_wav, speaking, settings,
                                                         tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.support.audio import REF_TEXT

    settings.MEDIA_ROOT = str(tmp_path / "media")
    for voice in ("x", "y"):
        response = client.post("/api/tts/voices/", {
            "id": voice, "name": voice, "ref_text": REF_TEXT, "consent": "Agreed.",
            "ref_audio": SimpleUploadedFile("ref.wav", ref_wav.read_bytes())},
            format="multipart")
        assert response.status_code == 201, response.content[:2000]
    text = ("[x] The farmer walked slowly to the market. [y] He bought apples and fresh bread "
            "for his family.")
    body = client.post(GENERATE, {"gen_text": text, "similarity": True, "nfe_step": 4},
                       format="json").json()
    chunks = body["similarity"]["chunks"]
    assert [chunk["index"] for chunk in chunks] == list(range(body["chunks"]))
    assert len(chunks) >= 2 and all(chunk["similarity"] > 0.7 for chunk in chunks), chunks
    assert body["similarity"]["similarity"] > 0.7
