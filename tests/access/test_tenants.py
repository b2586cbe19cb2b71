"""Two tenants on one server (TTS_REQUIRE_API_KEY on): a voice belongs to the key that made
it; the other key gets a 404 for it everywhere (native API, /v1, [tags], clips, jobs, streams)
and nothing changes; shared voices are usable by all and changed by admins only; admin keys
manage everything. Real clips, the tiny models, real generation."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from tests.support.audio import REF_TEXT
from tests.support.helpers import error_of
from tts.models import Job, Voice

VOICES, GENERATE, JOBS = "/api/tts/voices/", "/api/tts/generate/", "/api/tts/jobs/"
SPEECH, OPENAI_VOICES = "/v1/audio/speech", "/v1/audio/voices"
CONSENT = "The speaker agreed in writing."


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "tenant-media")


@pytest.fixture
def tenants(settings, make_key):
    """Keys a and b (ordinary) and ops (admin), as header dicts."""
    settings.TTS_REQUIRE_API_KEY = True
    headers = {}
    for name, admin in (("a", False), ("b", False), ("ops", True)):
        _, raw = make_key(name, is_admin=admin)
        headers[name] = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    return headers


def make_voice(client, ref_wav, who: dict, voice_id: str = "alice") -> dict:
    response = client.post(VOICES, {
        "id": voice_id, "name": "Alice", "ref_text": REF_TEXT, "consent": CONSENT,
        "ref_audio": SimpleUploadedFile("clip.wav", ref_wav.read_bytes())},
        format="multipart", **who)
    assert response.status_code == 201, response.content
    return response.json()


def speak(client, who: dict, **fields):
    body = {"gen_text": "Hello from a saved voice.", "nfe_step": 4, "seed": 3, **fields}
    return client.post(GENERATE, body, format="json", **who)


def test_another_key_gets_404_for_a_voice_everywhere_and_nothing_changes(client, tenants,
                                                                          ref_wav):
    a, b = tenants["a"], tenants["b"]
    voice = make_voice(client, ref_wav, a)
    assert voice["shared"] is False
    assert Voice.objects.get(slug="alice").owner  # the key's prefix
    # The owner uses and manages it.
    assert [v["id"] for v in client.get(VOICES, **a).json()["results"]] == ["alice"]
    assert speak(client, a, voice="alice").status_code == 200
    assert client.get(f"{VOICES}alice/clip/", **a).status_code == 200

    # The other key: not listed, and a 404 whatever it tries.
    assert client.get(VOICES, **b).json()["results"] == []
    assert client.get(OPENAI_VOICES, **b).json() == {"voices": []}
    for response in (
        client.get(f"{VOICES}alice/", **b),
        client.get(f"{VOICES}alice/clip/", **b),
        client.patch(f"{VOICES}alice/", {"name": "Mallory"}, format="json", **b),
        client.delete(f"{VOICES}alice/", **b),
        client.delete(f"{OPENAI_VOICES}/alice", **b),
        speak(client, b, voice="alice"),
        speak(client, b, voice="alice", stream=True),
        client.post(JOBS, {"gen_text": "Hi.", "voice": "alice", "nfe_step": 4},
                    format="json", **b),
    ):
        assert response.status_code == 404, response.content
    speech = client.post(SPEECH, {"model": "tts-1", "input": "Hi.", "voice": "alice"},
                         format="json", **b)
    assert speech.status_code == 404 and speech.json()["error"]["code"] == "voice_not_found"
    # In a script the tag is unknown, exactly as a voice that does not exist.
    for text in ("[alice] Hello there.", "[alice] Hello. [nobody] Hi."):
        tagged = speak(client, b, gen_text=text)
        assert tagged.status_code == 400 and error_of(tagged)["code"] == "unknown_voice"
        job = client.post(JOBS, {"gen_text": text, "nfe_step": 4}, format="json", **b)
        assert job.status_code == 400 and error_of(job)["code"] == "unknown_voice"
    missing = speak(client, b, gen_text="[nobody] Hi.")
    assert error_of(missing)["code"] == "unknown_voice"
    assert (error_of(client.get(f"{VOICES}nobody/", **b))["code"]
            == error_of(client.get(f"{VOICES}alice/", **b))["code"] == "voice_not_found")
    # Nothing changed.
    kept = Voice.objects.get(slug="alice")
    assert kept.name == "Alice" and not Job.objects.exists()
    assert speak(client, a, gen_text="[alice] Still mine.").status_code == 200


def test_jobs_that_name_a_voice_belong_to_their_key_and_admins_see_all(client, tenants,
                                                                        ref_wav):
    a, b, ops = tenants["a"], tenants["b"], tenants["ops"]
    make_voice(client, ref_wav, a)
    job = client.post(JOBS, {"gen_text": "[alice] Hello.", "nfe_step": 4}, format="json", **a)
    assert job.status_code == 202, job.content
    job_id = job.json()["id"]
    assert client.get(f"{JOBS}{job_id}/", **b).status_code == 404
    assert client.delete(f"{JOBS}{job_id}/", **b).status_code == 404
    assert client.get(JOBS, **b).json()["results"] == []
    assert client.get(f"{JOBS}{job_id}/", **ops).status_code == 200
    assert [j["id"] for j in client.get(JOBS, **ops).json()["results"]] == [job_id]
    assert client.get(f"{JOBS}{job_id}/audio/", **b).status_code == 404
    assert client.get(f"{JOBS}{job_id}/audio/", **a).status_code == 409  # not finished yet
    # (Run to the end in tests/api/test_jobs.py; here the job stays queued.)
    assert client.delete(f"{JOBS}{job_id}/", **a).json()["status"] == "cancelled"


def test_shared_voices_are_usable_by_all_and_changed_by_admins_only(client, tenants,
                                                                   ref_wav):
    a, b, ops = tenants["a"], tenants["b"], tenants["ops"]
    make_voice(client, ref_wav, a)
    # Only an admin publishes; the owner cannot, another key cannot even see it.
    refused = client.patch(f"{VOICES}alice/", {"shared": True}, format="json", **a)
    assert refused.status_code == 403 and error_of(refused)["code"] == "admin_only"
    assert client.patch(f"{VOICES}alice/", {"shared": True}, format="json",
                        **b).status_code == 404
    published = client.patch(f"{VOICES}alice/", {"shared": True}, format="json", **ops)
    assert published.status_code == 200 and published.json()["shared"] is True
    # Every key uses it, in the native API, /v1 and tags.
    assert [v["id"] for v in client.get(VOICES, **b).json()["results"]] == ["alice"]
    assert speak(client, b, voice="alice").status_code == 200
    assert speak(client, b, gen_text="[alice] Shared.").status_code == 200
    speech = client.post(SPEECH, {"model": "tts-1", "input": "Hi.", "voice": "alice",
                                  "nfe_step": 4}, format="json", **b)
    assert speech.status_code == 200
    b"".join(speech)
    # Nobody but an admin changes it, not even its owner; its recording stays private.
    for who in (a, b):
        for response in (client.patch(f"{VOICES}alice/", {"name": "X"}, format="json", **who),
                         client.delete(f"{VOICES}alice/", **who),
                         client.delete(f"{OPENAI_VOICES}/alice", **who)):
            assert response.status_code == 403, response.content
    assert client.get(f"{VOICES}alice/clip/", **b).status_code == 403
    assert Voice.objects.get(slug="alice").name == "Alice"
    renamed = client.patch(f"{VOICES}alice/", {"name": "Alice (house voice)"}, format="json",
                           **ops)
    assert renamed.status_code == 200 and renamed.json()["name"] == "Alice (house voice)"
    assert client.delete(f"{VOICES}alice/", **ops).status_code == 204


def test_admin_keys_manage_every_voice(client, tenants, ref_wav):
    a, ops = tenants["a"], tenants["ops"]
    make_voice(client, ref_wav, a)
    assert [v["id"] for v in client.get(VOICES, **ops).json()["results"]] == ["alice"]
    assert client.get(f"{VOICES}alice/clip/", **ops).status_code == 200
    assert client.patch(f"{VOICES}alice/", {"name": "Checked"}, format="json",
                        **ops).status_code == 200
    assert client.delete(f"{OPENAI_VOICES}/alice", **ops).status_code == 200
    assert not Voice.objects.exists()


def test_voices_from_before_keys_are_unowned_usable_by_all_changed_by_admins(
        client, settings, make_key, ref_wav):
    settings.TTS_REQUIRE_API_KEY = False
    make_voice(client, ref_wav, {})  # keys off: as always
    assert Voice.objects.get(slug="alice").owner == ""
    settings.TTS_REQUIRE_API_KEY = True
    _, raw = make_key("tenant")
    tenant = {"HTTP_X_API_KEY": raw}
    assert [v["id"] for v in client.get(VOICES, **tenant).json()["results"]] == ["alice"]
    assert speak(client, tenant, voice="alice").status_code == 200
    assert client.delete(f"{VOICES}alice/", **tenant).status_code == 403
    # The operator gives it to the key: then it is that key's alone.
    out = StringIO()
    call_command("voices", "assign", "--all-unowned", "--key", raw.partition(".")[0],
                 stdout=out)
    assert "assigned 1" in out.getvalue()
    _, other = make_key("other")
    assert client.get(f"{VOICES}alice/", HTTP_X_API_KEY=other).status_code == 404
    assert client.delete(f"{VOICES}alice/", **tenant).status_code == 204


def test_with_keys_off_nothing_changes(client, settings, ref_wav):
    settings.TTS_REQUIRE_API_KEY = False
    make_voice(client, ref_wav, {})
    assert speak(client, {}, gen_text="[alice] Hi.").status_code == 200
    assert client.get(f"{VOICES}alice/clip/").status_code == 200
    assert client.patch(f"{VOICES}alice/", {"name": "B"}, format="json").status_code == 200
    assert client.delete(f"{VOICES}alice/").status_code == 204


def test_voices_command_shares_and_lists(client, tenants, ref_wav):
    make_voice(client, ref_wav, tenants["a"])
    out = StringIO()
    call_command("voices", "share", "alice", stdout=out)
    assert Voice.objects.get(slug="alice").shared
    call_command("voices", "list", stdout=out)
    assert "alice" in out.getvalue() and "yes" in out.getvalue()
    assert speak(client, tenants["b"], voice="alice").status_code == 200
    call_command("voices", "unshare", "alice", stdout=out)
    assert speak(client, tenants["b"], voice="alice").status_code == 404
    out = StringIO()
    call_command("apikeys", "create", "boss", "--admin", stdout=out, stderr=StringIO())
    from tts.access.models import ApiKey

    assert ApiKey.objects.get(name="boss").is_admin
