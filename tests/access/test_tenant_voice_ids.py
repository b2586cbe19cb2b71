"""Voice ids are unique per tenant: keys a and b each have a voice ``narrator`` (the same clip,
two transcripts, so each prepared reference is told apart by its key and its ref_text). On
every path that names a voice each key hears its own (native generate, streams, SSE, [tags],
jobs, /v1 speech), lists, reads, changes and deletes only its own; its own beats a shared
voice of the same id; an admin names the owner with ``?owner=``. The worker side of celery
mode (a task through a real Redis, served by the worker's code) resolves the same voice.
Real clips, the tiny models, real generation; the engine's stored-reference lookup is only
watched, to see which prepared reference a generation used."""

from __future__ import annotations

import json

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.support.audio import REF_TEXT
from tests.support.helpers import error_of
from tts.engine.engine import TTSEngine
from tts.models import Job, Voice

VOICES, GENERATE, JOBS = "/api/tts/voices/", "/api/tts/generate/", "/api/tts/jobs/"
SPEECH, OPENAI_VOICES = "/v1/audio/speech", "/v1/audio/voices"
CONSENT = "The speaker agreed in writing."
TEXTS = {"a": REF_TEXT, "b": "A second transcript, so that this narrator is told apart.",
         "ops": "The operators' own narrator."}


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "tenant-media")


@pytest.fixture
def tenants(settings, make_key):
    """Keys a and b (ordinary) and ops (admin): header dicts, and their prefixes."""
    settings.TTS_REQUIRE_API_KEY = True
    headers, prefixes = {}, {}
    for name, admin in (("a", False), ("b", False), ("ops", True)):
        key, raw = make_key(name, is_admin=admin)
        headers[name], prefixes[name] = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}, key.prefix
    return headers, prefixes


@pytest.fixture
def used(monkeypatch) -> list[str]:
    """The reference keys of the prepared references generations read (in this process)."""
    keys: list[str] = []
    original = TTSEngine.stored_reference

    def watched(self, key, read):
        keys.append(key)
        return original(self, key, read)

    monkeypatch.setattr(TTSEngine, "stored_reference", watched)
    return keys


def make_voice(client, ref_wav, who: dict, text: str, voice_id: str = "narrator"):
    response = client.post(VOICES, {
        "id": voice_id, "name": "Narrator", "ref_text": text, "consent": CONSENT,
        "ref_audio": SimpleUploadedFile("clip.wav", ref_wav.read_bytes())},
        format="multipart", **who)
    return response


@pytest.fixture
def narrators(client, ref_wav, tenants) -> dict[str, Voice]:
    """a's and b's ``narrator``: both created (201), distinct rows, files and references."""
    headers, prefixes = tenants
    for name in ("a", "b"):
        response = make_voice(client, ref_wav, headers[name], TEXTS[name])
        assert response.status_code == 201, response.content
        assert response.json()["id"] == "narrator"
    mine = {name: Voice.objects.get(slug="narrator", owner=prefixes[name]) for name in "ab"}
    assert mine["a"].reference_key != mine["b"].reference_key
    assert mine["a"].clip.name != mine["b"].clip.name
    assert mine["a"].clip.name.startswith(f"voices/{prefixes['a']}/narrator/")
    assert mine["b"].prepared.name.startswith(f"voices/{prefixes['b']}/narrator/")
    return mine


def speak(client, who: dict, **fields):
    body = {"gen_text": "Hello from a saved voice.", "nfe_step": 4, "seed": 3, **fields}
    return client.post(GENERATE, body, format="json", **who)


@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume")
def test_each_tenant_hears_its_own_narrator_on_every_path(client, tenants, narrators, used):
    headers, _ = tenants
    for name in ("a", "b"):
        who, mine = headers[name], narrators[name]
        used.clear()
        whole = speak(client, who, voice="narrator")
        assert whole.status_code == 200 and whole.json()["ref_text"] == TEXTS[name]
        tagged = speak(client, who, gen_text="[narrator] Tagged words.")
        assert tagged.status_code == 200 and tagged.json()["ref_text"] == TEXTS[name]
        stream = speak(client, who, voice="narrator", stream=True)
        assert stream.status_code == 200
        b"".join(stream)
        events = client.post(GENERATE, {"gen_text": "[narrator] Streamed events.",
                                        "nfe_step": 4}, format="json",
                             HTTP_ACCEPT="text/event-stream", **who)
        assert events.status_code == 200, events.content
        b"".join(events)
        speech = client.post(SPEECH, {"model": "tts-1", "input": "Hi.", "voice": "narrator",
                                      "nfe_step": 4}, format="json", **who)
        assert speech.status_code == 200, speech.content
        b"".join(speech)
        assert used and set(used) == {mine.reference_key}, name


def test_jobs_keep_the_voice_resolved_for_their_key(client, tenants, narrators, used):
    from tts.work.jobs.run import job_run

    headers, _ = tenants
    for name in ("a", "b"):
        for body in ({"voice": "narrator", "gen_text": "A job."},
                     {"gen_text": "[narrator] A tagged job."}):
            submitted = client.post(JOBS, {**body, "nfe_step": 4}, format="json",
                                    **headers[name])
            assert submitted.status_code == 202, submitted.content
            job = Job.objects.get(id=submitted.json()["id"])
            assert job.voice_keys == {"narrator": narrators[name].pk}
            used.clear()
            finished = job_run(job_id=str(job.id))
            assert finished.status == Job.Status.SUCCEEDED, finished.error
            assert finished.output["ref_text"] == TEXTS[name]
            assert set(used) == {narrators[name].reference_key}
    # A job queued before voice ids were per key has no voice_keys: it is resolved for its
    # owner when it runs.
    legacy = client.post(JOBS, {"voice": "narrator", "gen_text": "Old.", "nfe_step": 4},
                         format="json", **headers["b"]).json()["id"]
    Job.objects.filter(id=legacy).update(voice_keys=None)
    assert job_run(job_id=legacy).output["ref_text"] == TEXTS["b"]


def test_each_tenant_lists_reads_changes_and_deletes_only_its_own(client, tenants, narrators):
    headers, prefixes = tenants
    a, b = headers["a"], headers["b"]
    for name in ("a", "b"):
        listed = client.get(VOICES, **headers[name]).json()["results"]
        assert [(v["id"], v["ref_text"]) for v in listed] == [("narrator", TEXTS[name])]
        assert listed[0]["owner"] == prefixes[name]  # its own: it may name it
        assert listed[0]["clip_url"].endswith(f"/narrator/clip/?owner={prefixes[name]}")
        assert (client.get(OPENAI_VOICES, **headers[name]).json()
                == {"voices": [{"id": "narrator", "name": "Narrator"}]})
        assert client.get(f"{VOICES}narrator/", **headers[name]).json()["ref_text"] == (
            TEXTS[name])
        clip = client.get(f"{VOICES}narrator/clip/", **headers[name])
        assert clip.status_code == 200
        with default_storage.open(narrators[name].clip.name, "rb") as handle:
            assert clip.content == handle.read()

    renamed = client.patch(f"{VOICES}narrator/", {"name": "A's narrator"}, format="json", **a)
    assert renamed.status_code == 200 and renamed.json()["name"] == "A's narrator"
    assert Voice.objects.get(pk=narrators["b"].pk).name == "Narrator"
    # b names a's owner: still only its own world (a 404, as for a voice that is not there).
    prefix_a = tenants[1]["a"]
    assert client.get(f"{VOICES}narrator/?owner={prefix_a}", **b).status_code == 404
    assert client.delete(f"{VOICES}narrator/?owner={prefix_a}", **b).status_code == 404

    assert client.delete(f"{VOICES}narrator/", **b).status_code == 204
    assert not Voice.objects.filter(pk=narrators["b"].pk).exists()
    assert not default_storage.exists(narrators["b"].clip.name)
    assert default_storage.exists(narrators["a"].clip.name)
    assert speak(client, b, voice="narrator").status_code == 404
    assert speak(client, a, voice="narrator").json()["ref_text"] == TEXTS["a"]
    gone = client.delete(f"{OPENAI_VOICES}/narrator", **a)
    assert gone.status_code == 200 and not Voice.objects.exists()


def test_within_one_tenant_an_id_is_still_taken(client, ref_wav, tenants, narrators):
    headers, _ = tenants
    again = make_voice(client, ref_wav, headers["a"], TEXTS["a"])
    assert again.status_code == 400 and error_of(again)["code"] == "voice_exists"
    derived = client.post(VOICES, {
        "name": "Narrator", "ref_text": REF_TEXT, "consent": CONSENT,
        "ref_audio": SimpleUploadedFile("clip.wav", ref_wav.read_bytes())},
        format="multipart", **headers["a"])
    assert derived.json()["id"] == "narrator-2"  # derived from the name, numbered per key


def test_own_voice_wins_over_a_shared_one_of_the_same_id(client, ref_wav, tenants, used):
    headers, prefixes = tenants
    a, b, ops = headers["a"], headers["b"], headers["ops"]
    assert make_voice(client, ref_wav, a, TEXTS["a"]).status_code == 201
    shared = client.patch(f"{VOICES}narrator/", {"shared": True}, format="json", **ops)
    assert shared.status_code == 200 and shared.json()["owner"] == prefixes["a"]
    # b has none of its own: it hears the shared one ...
    assert speak(client, b, voice="narrator").json()["ref_text"] == TEXTS["a"]
    # ... until it saves its own, which wins for b (and only for b).
    assert make_voice(client, ref_wav, b, TEXTS["b"]).status_code == 201
    assert speak(client, b, voice="narrator").json()["ref_text"] == TEXTS["b"]
    assert speak(client, b, gen_text="[narrator] Mine.").json()["ref_text"] == TEXTS["b"]
    assert speak(client, a, voice="narrator").json()["ref_text"] == TEXTS["a"]
    assert client.get(f"{VOICES}narrator/", **b).json()["ref_text"] == TEXTS["b"]
    ids = [(v["id"], v["shared"], v["owner"])
           for v in client.get(VOICES, **b).json()["results"]]
    # Whose the shared one is stays the admins' business.
    assert sorted(ids) == [("narrator", False, prefixes["b"]), ("narrator", True, None)]
    # b changes its own, never the shared one.
    assert client.delete(f"{VOICES}narrator/", **b).status_code == 204
    assert Voice.objects.get(slug="narrator").owner == prefixes["a"]
    assert speak(client, b, voice="narrator").json()["ref_text"] == TEXTS["a"]


def test_an_admin_names_the_owner(client, ref_wav, tenants, narrators):
    headers, prefixes = tenants
    ops = headers["ops"]
    listed = client.get(VOICES, **ops).json()["results"]
    assert sorted(v["owner"] for v in listed) == sorted([prefixes["a"], prefixes["b"]])
    assert all(f"?owner={v['owner']}" in v["clip_url"] for v in listed)
    only_b = client.get(f"{VOICES}?owner={prefixes['b']}", **ops).json()["results"]
    assert [v["ref_text"] for v in only_b] == [TEXTS["b"]]
    # Two keys have it and the admin has none: it must say whose.
    ambiguous = client.get(f"{VOICES}narrator/", **ops)
    assert ambiguous.status_code == 409 and error_of(ambiguous)["code"] == "voice_ambiguous"
    for name in ("a", "b"):
        url = f"{VOICES}narrator/?owner={prefixes[name]}"
        assert client.get(url, **ops).json()["ref_text"] == TEXTS[name]
        assert client.get(f"{VOICES}narrator/clip/?owner={prefixes[name]}",
                          **ops).status_code == 200
    renamed = client.patch(f"{VOICES}narrator/?owner={prefixes['b']}", {"name": "B"},
                           format="json", **ops)
    assert renamed.status_code == 200 and renamed.json()["owner"] == prefixes["b"]
    assert Voice.objects.get(pk=narrators["b"].pk).name == "B"
    assert Voice.objects.get(pk=narrators["a"].pk).name == "Narrator"
    assert client.delete(f"{OPENAI_VOICES}/narrator?owner={prefixes['a']}",
                         **ops).status_code == 200
    assert list(Voice.objects.values_list("pk", flat=True)) == [narrators["b"].pk]
    # The audit says whose voice an admin changed.
    from tts.access.models import AuditEntry

    changes = AuditEntry.objects.filter(key_prefix=prefixes["ops"], status__lt=400,
                                        action__in=("voice_update", "voice_delete"))
    assert sorted(changes.values_list("action", "voice")) == [
        ("voice_delete", f"{prefixes['a']}/narrator"),
        ("voice_update", f"{prefixes['b']}/narrator")]
    # One left: the admin reaches it without naming the owner; its own would come first.
    assert client.get(f"{VOICES}narrator/", **ops).json()["ref_text"] == TEXTS["b"]
    assert make_voice(client, ref_wav, ops, TEXTS["ops"]).status_code == 201
    assert speak(client, ops, voice="narrator").json()["ref_text"] == TEXTS["ops"]


def test_the_voices_command_names_the_owner_where_ids_repeat(tenants, narrators):
    from io import StringIO

    from django.core.management import CommandError, call_command

    _, prefixes = tenants
    with pytest.raises(CommandError, match="--owner"):
        call_command("voices", "share", "narrator", stdout=StringIO())
    call_command("voices", "share", "narrator", "--owner", prefixes["b"], stdout=StringIO())
    assert Voice.objects.get(pk=narrators["b"].pk).shared
    assert not Voice.objects.get(pk=narrators["a"].pk).shared
    with pytest.raises(CommandError, match="already"):
        call_command("voices", "assign", "narrator", "--owner", prefixes["b"],
                     "--key", prefixes["a"], stdout=StringIO())


def test_a_worker_resolves_the_voice_its_web_node_resolved(settings, tenants, narrators,
                                                          used):
    """Celery mode: the web side resolves b's narrator into the task (voice_keys); the task
    goes through JSON and a real Redis relay to the worker's code, which speaks with it,
    whole and streamed."""
    from tests.support.services import redis_database
    from tts.execution import relay
    from tts.execution.celery_web import _speech_task
    from tts.execution.celery_worker import serve
    from tts.execution.messages import SpeechDone, StreamEnd, read_task
    from tts.services.voices import Tenant, check_request_voices
    from tts.work.speech import SpeechRequest

    _, prefixes = tenants
    tenant = Tenant(owner=prefixes["b"])
    with redis_database() as url:
        settings.CELERY_BROKER_URL = url
        relay.connection.cache_clear()
        try:
            for stream, text in ((False, "Made on a worker."), (True, "[narrator] Streamed.")):
                keys = check_request_voices(voice="narrator", gen_text=text, tenant=tenant)
                assert keys == {"narrator": narrators["b"].pk}
                channel = relay.Relay()
                task = _speech_task(SpeechRequest(
                    gen_text=text, options={"nfe_step": 4, "seed": 3}, voice="narrator",
                    voice_keys=keys), stream=stream)
                payload = json.loads(json.dumps(task.model_dump(mode="json")))
                assert read_task(payload).voice_keys == keys
                used.clear()
                serve({**payload, "relay_id": channel.id})
                replies = []
                while not replies or not isinstance(replies[-1].message,
                                                    SpeechDone | StreamEnd):
                    replies.append(channel.read(timeout=10))
                if not stream:
                    assert replies[-1].message.ref_text == TEXTS["b"]
                assert set(used) == {narrators["b"].reference_key}
        finally:
            relay.connection.cache_clear()


@pytest.mark.django_db(transaction=True)
def test_voices_from_before_per_tenant_ids_survive_the_migration(client, ref_wav, make_key):
    """Back to 0005 (one id for all) and forward to 0006 again: every voice keeps its id,
    owner, shared flag, transcript, reference key, files and times, and still speaks."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    from tts.work.runtime import reset_engine

    for voice_id, text in (("legacy", TEXTS["a"]), ("published", TEXTS["b"])):
        assert make_voice(client, ref_wav, {}, text, voice_id=voice_id).status_code == 201
    key, raw = make_key("owner")
    Voice.objects.filter(slug="published").update(owner=key.prefix, shared=True)
    fields = ("slug", "owner", "shared", "name", "ref_text", "transcribed", "duration",
              "ref_clip", "consent", "clip", "prepared", "reference_key", "stored_bytes",
              "created_at", "updated_at")
    before = list(Voice.objects.order_by("created_at").values(*fields))
    assert before[0]["clip"].startswith("voices/legacy/")

    executor = MigrationExecutor(connection)
    old_state = [("tts", "0005_voice_stored_bytes")]
    latest = executor.loader.graph.leaf_nodes("tts")
    try:
        executor.migrate(old_state)
        old = MigrationExecutor(connection).loader.project_state(old_state).apps
        assert sorted(old.get_model("tts", "Voice").objects.values_list("id", "owner")) == [
            ("legacy", ""), ("published", key.prefix)]
        MigrationExecutor(connection).migrate(latest)
    finally:
        MigrationExecutor(connection).migrate(latest)
    after = list(Voice.objects.order_by("created_at").values(*fields))
    assert after == before
    assert len(set(Voice.objects.values_list("serial", flat=True))) == 2

    reset_engine()  # as after a restart: the prepared references are read from their files
    spoken = speak(client, {}, voice="legacy")
    assert spoken.status_code == 200 and spoken.json()["ref_text"] == TEXTS["a"]
    assert client.get(f"{VOICES}legacy/clip/").content == ref_wav.read_bytes()
    other = speak(client, {"HTTP_AUTHORIZATION": f"Bearer {raw}"}, voice="published")
    assert other.json()["ref_text"] == TEXTS["b"]
