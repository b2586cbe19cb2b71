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


def test_voice_count_and_storage_caps_per_key_and_usage(client, settings, make_key, ref_wav):
    settings.TTS_REQUIRE_API_KEY = True
    settings.TTS_VOICES_PER_KEY = 2
    _, raw = make_key("tenant")
    who = {"HTTP_X_API_KEY": raw}
    for voice_id in ("one", "two"):
        assert client.post(VOICES, voice_body(ref_wav, voice_id), format="multipart",
                           **who).status_code == 201
    refused = client.post(VOICES, voice_body(ref_wav, "three"), format="multipart", **who)
    assert refused.status_code == 403 and error_of(refused)["code"] == "voice_limit_reached"
    usage = client.get("/api/tts/usage/", **who).json()
    assert usage["voices"]["count"] == 2 and usage["voices"]["count_limit"] == 2
    assert usage["voices"]["bytes"] > ref_wav.stat().st_size  # clip + prepared reference
    # Another key has its own count; admin keys are exempt.
    _, other = make_key("other")
    assert client.post(VOICES, voice_body(ref_wav, "three"), format="multipart",
                       HTTP_X_API_KEY=other).status_code == 201
    _, admin = make_key("ops", is_admin=True)
    for voice_id in ("a1", "a2", "a3"):
        assert client.post(VOICES, voice_body(ref_wav, voice_id), format="multipart",
                           HTTP_X_API_KEY=admin).status_code == 201
    # Storage: a cap smaller than what one more clip needs.
    settings.TTS_VOICES_PER_KEY = 0
    used = usage["voices"]["bytes"]
    settings.TTS_VOICE_STORAGE_MB_PER_KEY = (used + 1000) / 2**20
    refused = client.post(VOICES, voice_body(ref_wav, "four"), format="multipart", **who)
    assert refused.status_code == 403
    assert error_of(refused)["code"] == "voice_storage_limit_reached"
    assert client.delete(f"{VOICES}one/", **who).status_code == 204
    assert client.post(VOICES, voice_body(ref_wav, "four"), format="multipart",
                       **who).status_code == 201
    assert AuditEntry.objects.filter(action="voice_create", outcome="voice_limit_reached",
                                     status=403).exists()


def test_usage_shows_the_audio_quota(client, settings, make_key, form):
    settings.TTS_AUDIO_SECONDS_PER_DAY = 100
    _, raw = make_key("tenant", requests_per_minute=7)
    who = {"HTTP_X_API_KEY": raw}
    before = client.get("/api/tts/usage/", **who).json()
    assert before["requests_per_minute"] == 7 and before["audio_seconds_per_day"] == 100
    assert before["audio_seconds_used"] == 0 and before["audio_seconds_left"] == 100
    assert client.post(GENERATE, form(), **who).status_code == 200
    after = client.get("/api/tts/usage/", **who).json()
    assert after["audio_seconds_used"] > 0
    assert after["audio_seconds_left"] == pytest.approx(100 - after["audio_seconds_used"])


def test_cancelling_a_job_is_a_write_and_is_audited(client, settings, make_key):
    from tts.models import Job

    settings.TTS_RATE_LIMIT_PER_MINUTE = 100
    settings.TTS_WRITE_RATE_LIMIT_PER_MINUTE = 2
    key, raw = make_key("tenant")
    who = {"HTTP_X_API_KEY": raw}
    job = Job.objects.create(id="00000000-0000-4000-8000-000000000001", owner=key.prefix,
                             request_hash="x", model="tiny-f5", gen_text="Queued.")
    for _ in range(5):  # reading is free
        assert client.get(f"{JOBS}{job.id}/", **who).status_code == 200
    assert client.delete(f"{JOBS}{job.id}/", **who).status_code == 202
    assert client.delete(f"{JOBS}{job.id}/", **who).status_code == 409  # finished
    refused = client.delete(f"{JOBS}{job.id}/", **who)
    assert refused.status_code == 429 and "writes per minute" in error_of(refused)["detail"]
    rows = AuditEntry.objects.filter(action="job_cancel", key_prefix=key.prefix)
    assert sorted(rows.values_list("status", "outcome")) == [(202, "ok"), (409, "job_finished")]
