"""Shared fixtures: tiny real-architecture checkpoints, real speech from espeak-ng, settings.

Tests never reach the network: HF_HUB_OFFLINE=1 is set before anything imports the hub client.
Helpers live in tests/support (shared with bench/), not here.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
_SESSION_VAR = tempfile.mkdtemp(prefix="tts-test-var-")
os.environ.setdefault("TTS_VAR_DIR", _SESSION_VAR)
# Tests compare one seed's streams across requests: their chunks must not follow the loaded
# test machine's measured speed (the measured pacing is tested in tests/engine/test_pacing.py
# on engines of its own). Live servers inherit this; in-process, see fixed_stream_pacing.
os.environ.setdefault("TTS_STREAM_PACING", "fixed")

import pytest  # noqa: E402

from tests.support.audio import REF_TEXT, speak  # noqa: E402
from tests.support.helpers import tiny_config  # noqa: E402
from tts.engine.engine import TTSEngine  # noqa: E402


def pytest_configure(config):
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        # A test's own transaction holds SQLite's write lock until it ends: a background
        # thread's write (a stream's audit update) gives up at once instead of waiting 30 s.
        database["OPTIONS"]["timeout"] = 0.2


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_SESSION_VAR, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def fixed_stream_pacing():
    """The in-process engine sizes streams the same whatever the machine's speed (Django's
    settings were read before this file set the environment)."""
    from django.conf import settings

    settings.TTS_STREAM_PACING = os.environ["TTS_STREAM_PACING"]


@pytest.fixture(scope="session")
def audio_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("audio")


@pytest.fixture(scope="session")
def ref_wav(audio_dir) -> Path:
    return speak(REF_TEXT, audio_dir / "ref.wav")


@pytest.fixture(scope="session")
def ref_bytes(ref_wav) -> bytes:
    return ref_wav.read_bytes()


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    from tts.engine.tiny import write_tiny_models

    folder = tmp_path_factory.mktemp("tiny-models")
    write_tiny_models(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_models_file(tiny_dir) -> Path:
    return tiny_dir / "models.toml"


@pytest.fixture(scope="session")
def tiny_engine(tiny_dir) -> TTSEngine:
    """One warm engine on the tiny models for the engine tests."""
    return TTSEngine(tiny_config(tiny_dir))


@pytest.fixture(autouse=True)
def tts_settings(tiny_dir, tmp_path):
    """Point Django at the tiny models and a private media folder; fresh engine per test."""
    from django.conf import settings

    from tests.support.helpers import reset_engine

    saved = {name: getattr(settings, name) for name in (
        "TTS_MODELS_FILE", "TTS_DEFAULT_MODEL", "TTS_PRELOAD", "TTS_VOCODER_PATH",
        "TTS_ALLOW_DOWNLOADS", "MEDIA_ROOT", "TTS_PRECISION", "TTS_MIN_FREE_MB")}
    settings.TTS_MODELS_FILE = str(tiny_dir / "models.toml")
    settings.TTS_DEFAULT_MODEL = "tiny-f5"
    settings.TTS_PRELOAD = []
    settings.TTS_VOCODER_PATH = str(tiny_dir / "vocos")
    settings.TTS_ALLOW_DOWNLOADS = False
    settings.TTS_PRECISION = "float32"  # what `auto` picks differs between machines
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.TTS_MIN_FREE_MB = 0  # the test machine's free space is not under test
    reset_engine()
    yield settings
    for name, value in saved.items():
        setattr(settings, name, value)
    reset_engine()


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a network connection fails the test loudly."""
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture
def private_tmp(tmp_path, monkeypatch) -> Path:
    """A temp folder of the test's own (tempfile and TMPDIR point at it), to prove that a
    piece of work leaves nothing behind."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder
