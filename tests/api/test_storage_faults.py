"""A full disk or database is an answer, not a crash: 507 in both error shapes with nothing
kept, readiness and health that say so, deletes that work on a full disk, whole files or none,
and the orphan sweep.

The faults are real: the media folder is a small tmpfs filled to the last bytes, and the
database's fault is SQLite's own "database or disk is full" (its page limit reached).
"""

from __future__ import annotations

import errno
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import OperationalError

from tests.support.audio import REF_TEXT
from tests.support.disk import small_disk
from tts.models import Job, Voice
from tts.observability.metrics import ORPHANS_REMOVED
from tts.storage import PARTIAL_PREFIX, AtomicFileSystemStorage
from tts.work.errors import StorageFull, storage_full
from tts.work.orphans import sweep_orphans

pytestmark = pytest.mark.django_db
VOICES = "/api/tts/voices/"
CONSENT = "The speaker agreed in writing."


@pytest.fixture
def disk(settings, tmp_path):
    with small_disk(tmp_path / "disk") as small:
        settings.MEDIA_ROOT = str(small.path / "media")
        yield small


def files_under(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def voice_body(ref_wav, **fields) -> dict:
    return {"name": "Narrator", "ref_text": REF_TEXT, "consent": CONSENT,
            "ref_audio": SimpleUploadedFile("clip.wav", ref_wav.read_bytes()), **fields}


def test_a_voice_on_a_full_disk_is_a_507_that_keeps_nothing(client, disk, ref_wav):
    (disk.path / "media").mkdir()
    disk.fill(leave=8192)
    reply = client.post(VOICES, voice_body(ref_wav), format="multipart")
    assert reply.status_code == 507, reply.content
    error = reply.json()["errors"][0]
    assert error["code"] == "insufficient_storage"
    assert "nothing of this request was kept" in error["detail"]
    assert reply["Retry-After"] == "60"
    assert not Voice.objects.exists()
    assert files_under(disk.path / "media") == []  # no torn clip, no partial file, no folder
    disk.free()
    assert client.post(VOICES, voice_body(ref_wav), format="multipart").status_code == 201


def test_the_openai_api_and_jobs_answer_507_in_their_own_shapes(client, disk, ref_wav):
    (disk.path / "media").mkdir()
    disk.fill(leave=8192)
    reply = client.post("/v1/audio/voices", {
        "name": "Narrator", "consent": "cons_1", "ref_text": REF_TEXT,
        "audio_sample": SimpleUploadedFile("voice.wav", ref_wav.read_bytes())},
        format="multipart")
    assert reply.status_code == 507, reply.content
    assert reply.json()["error"]["code"] == "insufficient_storage"
    assert reply.json()["error"]["type"] == "server_error"
    job = client.post("/api/tts/jobs/", {
        "ref_audio": ref_wav.open("rb"), "ref_text": REF_TEXT, "gen_text": "Hello there.",
        "nfe_step": 4}, format="multipart")
    assert job.status_code == 507, job.content
    assert not Job.objects.exists()
    assert files_under(disk.path / "media") == []


def test_a_full_database_is_recognised_as_full_storage():
    """SQLite's own fault (its page limit reached), as Django raises it."""
    database = sqlite3.connect(":memory:")
    database.execute("CREATE TABLE t (data BLOB)")
    database.execute("PRAGMA max_page_count = 3")
    with pytest.raises(sqlite3.OperationalError) as full:
        for _ in range(10):
            database.execute("INSERT INTO t VALUES (zeroblob(4000))")
    try:
        raise OperationalError(*full.value.args) from full.value
    except OperationalError as wrapped:
        recognised = storage_full(wrapped)
    assert isinstance(recognised, StorageFull) and recognised.code == "insufficient_storage"
    assert storage_full(OSError(errno.EACCES, "Permission denied")) is None
    assert storage_full(OperationalError("database is locked")) is None


def test_readiness_turns_503_with_the_reason_and_health_shows_free_space(client, settings,
                                                                         disk):
    from tts.access.models import ApiKey

    health = client.get("/api/tts/health/").json()
    assert set(health["storage"]) == {"data", "media"}
    assert "path" not in health["storage"]["media"]  # paths only for admin callers
    _, admin = ApiKey.objects.create_key(name="ops", is_admin=True)
    full = client.get("/api/tts/health/", HTTP_AUTHORIZATION=f"Bearer {admin}").json()
    assert full["storage"]["media"]["path"] == settings.MEDIA_ROOT
    assert 0 < health["storage"]["media"]["free_mb"] <= health["storage"]["media"]["total_mb"]
    settings.TTS_MIN_FREE_MB = 1
    disk.fill(leave=512 * 1024)
    ready = client.get("/api/tts/health/ready/")
    assert ready.status_code == 503
    detail = ready.json()["errors"][0]["detail"]
    assert "TTS_MIN_FREE_MB" in detail and "media" in detail and "Free space" in detail
    disk.free()
    settings.TTS_MIN_FREE_MB = 0
    assert client.get("/api/tts/health/").json()["storage"]["media"]["free_mb"] > 1


def test_a_voice_can_be_deleted_on_a_full_disk(client, disk, ref_wav):
    voice = client.post(VOICES, voice_body(ref_wav), format="multipart").json()
    disk.fill()
    assert disk.free_bytes() < 4096
    assert client.delete(f"{VOICES}{voice['id']}/").status_code == 204
    assert not Voice.objects.exists()
    assert files_under(disk.path / "media") == []  # its folders went with its files


# --- atomic writes ---------------------------------------------------------------------------

WRITER = """
import sys
from django.core.files.base import File
from tts.storage import AtomicFileSystemStorage

class Slow(File):
    def chunks(self, chunk_size=None):
        for _ in range(100_000):
            yield b"x" * 65536
            sys.stdout.write(".")
            sys.stdout.flush()

AtomicFileSystemStorage(location=sys.argv[1]).save("voices/v/clip.wav", Slow(None, "clip"))
"""


def test_a_write_killed_midway_leaves_no_torn_file(tmp_path):
    old = tmp_path / "voices" / "v" / "clip.wav"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"the whole old file")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    writer = subprocess.Popen(
        [sys.executable, "-c", "import django; django.setup()\n" + WRITER, str(tmp_path)],
        stdout=subprocess.PIPE, env=env, cwd=Path(__file__).parents[2])
    assert writer.stdout.read(20) == b"." * 20  # 1.25 MB written by now
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    assert old.read_bytes() == b"the whole old file"  # untouched: a new name would be taken
    partial = [path.name for path in old.parent.iterdir() if path.name != "clip.wav"]
    assert len(partial) == 1 and partial[0].startswith(PARTIAL_PREFIX)
    assert (old.parent / partial[0]).stat().st_size >= 20 * 65536


def test_a_failed_write_leaves_nothing(disk):
    storage = AtomicFileSystemStorage(location=disk.path / "media")
    with pytest.raises(OSError) as failed:
        storage.save("voices/v/clip.wav", ContentFile(b"x" * (8 << 20)))
    assert failed.value.errno == 28
    assert files_under(disk.path / "media") == []  # nor the folders made for it
    assert storage.save("voices/v/clip.wav", ContentFile(b"whole")) == "voices/v/clip.wav"
    assert (disk.path / "media/voices/v/clip.wav").read_bytes() == b"whole"


def test_saving_under_a_taken_name_keeps_both(tmp_path):
    storage = AtomicFileSystemStorage(location=tmp_path)
    first = storage.save("jobs/j/speech.wav", ContentFile(b"one"))
    second = storage.save("jobs/j/speech.wav", ContentFile(b"two"))
    assert first != second
    assert (storage.open(first).read(), storage.open(second).read()) == (b"one", b"two")
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / first).stat().st_mode & 0o777 == 0o666 & ~umask  # as a plain write
    storage.delete(first)
    storage.delete(second)
    assert list(tmp_path.iterdir()) == []  # the emptied folders went too


# --- the orphan sweep ------------------------------------------------------------------------

def aged(path: Path, hours: float = 2) -> Path:
    then = time.time() - hours * 3600
    os.utime(path, (then, then))
    return path


def test_the_orphan_sweep_removes_only_what_no_row_names(client, settings, ref_wav,
                                                          tmp_path):
    media = Path(settings.MEDIA_ROOT)
    voice = client.post(VOICES, voice_body(ref_wav), format="multipart").json()
    kept = sorted(files_under(media))
    for path in (media / "voices" / voice["id"]).iterdir():
        aged(path)
    orphans = [media / "voices/gone/clip.wav", media / "jobs/1234/speech.wav",
               media / f"voices/{voice['id']}/{PARTIAL_PREFIX}abc"]
    for path in orphans:
        path.parent.mkdir(parents=True, exist_ok=True)
        aged(path.write_bytes(b"x") and path)
    young = media / "voices/being-written/clip.wav"
    young.parent.mkdir()
    young.write_bytes(b"x")
    aged(media / "voices/gone")
    (media / "jobs/empty").mkdir()
    aged(media / "jobs/empty")

    dry = sweep_orphans(dry_run=True)
    assert sorted(dry) == sorted([
        "voices/gone/clip.wav", "jobs/1234/speech.wav",
        f"voices/{voice['id']}/{PARTIAL_PREFIX}abc", "jobs/empty/"])
    assert all(path.exists() for path in orphans)

    before = ORPHANS_REMOVED._value.get()
    call_command("sweep_orphans")
    assert ORPHANS_REMOVED._value.get() - before == len(dry)
    assert not any(path.exists() for path in orphans)
    assert not (media / "voices/gone").exists() and not (media / "jobs/empty").exists()
    assert young.exists()  # younger than the grace period: perhaps being written now
    assert set(kept) <= set(files_under(media))
    assert client.get(f"{VOICES}{voice['id']}/clip/").status_code == 200
    assert sweep_orphans(grace=timedelta(0)) == ["voices/being-written/clip.wav"]
