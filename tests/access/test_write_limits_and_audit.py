"""Writes count against the key's rate (voices created, changed, deleted; jobs submitted), and
every change to a voice and every use of one (/v1, tags, jobs) leaves an audit row naming the
key, the voice and the outcome, never the text unless TTS_AUDIT_STORE_TEXT."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from tests.support.audio import REF_TEXT
from tests.support.helpers import error_of
from tts.access.models import AuditEntry

VOICES, GENERATE, JOBS = "/api/tts/voices/", "/api/tts/generate/", "/api/tts/jobs/"
CONSENT = "The speaker agreed in writing."


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "audit-media")


def voice_body(ref_wav, voice_id: str) -> dict:
    return {"id": voice_id, "name": voice_id.title(), "ref_text": REF_TEXT,
            "consent": CONSENT, "ref_audio": SimpleUploadedFile("c.wav", ref_wav.read_bytes())}


def test_voice_writes_share_the_keys_rate_and_reads_do_not_count(client, settings,
                                                                  make_key, ref_wav):
    settings.TTS_RATE_LIMIT_PER_MINUTE = 100
    _, raw = make_key("tenant", requests_per_minute=3)
    who = {"HTTP_X_API_KEY": raw}
    assert client.post(VOICES, voice_body(ref_wav, "one"), format="multipart",
                       **who).status_code == 201
    assert client.patch(f"{VOICES}one/", {"name": "Uno"}, format="json",
                        **who).status_code == 200
    for _ in range(5):  # reads are free
        assert client.get(VOICES, **who).status_code == 200
        assert client.get(f"{VOICES}one/", **who).status_code == 200
    assert client.delete(f"{VOICES}one/", **who).status_code == 204
    refused = client.post(VOICES, voice_body(ref_wav, "two"), format="multipart", **who)
    assert refused.status_code == 429 and error_of(refused)["code"] == "rate_limited"
    assert 1 <= int(refused["Retry-After"]) <= 60
    # Generation shares that budget.
    assert client.post(GENERATE, {}, **who).status_code == 429
    # Another key is unaffected.
    _, other = make_key("other")
    assert client.post(VOICES, voice_body(ref_wav, "two"), format="multipart",
                       HTTP_X_API_KEY=other).status_code == 201


def test_writes_may_have_a_budget_of_their_own(client, settings, make_key, ref_wav):
    settings.TTS_RATE_LIMIT_PER_MINUTE = 100
    settings.TTS_WRITE_RATE_LIMIT_PER_MINUTE = 1
    _, raw = make_key("tenant")
    who = {"HTTP_X_API_KEY": raw}
    assert client.post(VOICES, voice_body(ref_wav, "one"), format="multipart",
                       **who).status_code == 201
    refused = client.delete(f"{VOICES}one/", **who)
    assert refused.status_code == 429 and "writes per minute" in error_of(refused)["detail"]
    assert client.delete("/v1/audio/voices/one", **who).status_code == 429
    assert client.post(GENERATE, {}, **who).status_code == 400  # generation: its own budget


def test_every_voice_change_and_use_is_audited(client, settings, make_key, ref_wav):
    settings.TTS_REQUIRE_API_KEY = True
    key, raw = make_key("tenant")
    who = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    for voice_id in ("anna", "bert"):
        assert client.post(VOICES, voice_body(ref_wav, voice_id), format="multipart",
                           **who).status_code == 201
    assert client.patch(f"{VOICES}anna/", {"name": "Anna B."}, format="json",
                        **who).status_code == 200
    speech = client.post("/v1/audio/speech", {"model": "tts-1", "input": "Secret words.",
                                              "voice": "anna", "nfe_step": 4},
                         format="json", **who)
    assert speech.status_code == 200
    b"".join(speech)
    tagged = client.post(GENERATE, {"gen_text": "[anna] Hello. [bert] Secret words.",
                                    "nfe_step": 4}, format="json", **who)
    assert tagged.status_code == 200
    job = client.post(JOBS, {"gen_text": "[bert] Later.", "nfe_step": 4}, format="json", **who)
    assert job.status_code == 202
    assert client.delete(f"{VOICES}nobody/", **who).status_code == 404  # failures too
    assert client.delete("/v1/audio/voices/bert", **who).status_code == 200
    rows = [(e.action, e.voice, e.status, e.outcome, e.key_prefix)
            for e in AuditEntry.objects.order_by("created", "id")]
    assert rows == [
        ("voice_create", "anna", 201, "ok", key.prefix),
        ("voice_create", "bert", 201, "ok", key.prefix),
        ("voice_update", "anna", 200, "ok", key.prefix),
        ("openai_speech", "anna", 200, "ok", key.prefix),
        ("generate", "anna,bert", 200, "ok", key.prefix),
        ("job_submit", "bert", 202, "ok", key.prefix),
        ("voice_delete", "nobody", 404, "voice_not_found", key.prefix),
        ("voice_delete", "bert", 200, "ok", key.prefix),
    ]
    entries = AuditEntry.objects.all()
    assert all(entry.text == "" for entry in entries)  # never the text by default
    assert all(entry.client_ip == "127.0.0.1" for entry in entries)
    # The operator's own changes are audited as well.
    call_command("voices", "share", "anna", stdout=StringIO())
    shared = AuditEntry.objects.get(action="voice_share")
    assert shared.voice == "anna" and shared.request_id.startswith("manage.py voices")
    # Exportable as before.
    out = StringIO()
    call_command("export_audit", stdout=out)
    assert "voice_create" in out.getvalue() and "anna,bert" in out.getvalue()
