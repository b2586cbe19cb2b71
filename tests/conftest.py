"""Shared fixtures: tiny real-architecture checkpoints, real speech from espeak-ng, settings.

Tests never reach the network: HF_HUB_OFFLINE=1 is set before anything imports the hub client.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TTS_VAR_DIR", tempfile.mkdtemp(prefix="tts-test-var-"))

import pytest  # noqa: E402

from tts.engine.config import EngineConfig  # noqa: E402
from tts.engine.engine import TTSEngine  # noqa: E402

REF_TEXT = "Hello there, this is a short reference clip for testing the server."


def speak(text: str, path: Path, *, speed: int = 160) -> Path:
    """Real speech from espeak-ng (22.05 kHz mono wav)."""
    subprocess.run(["espeak-ng", "-s", str(speed), "-w", str(path), text], check=True)
    return path


def convert(source: Path, target: Path, *args: str) -> Path:
    """ffmpeg conversion, e.g. convert(wav, out.m4a, "-ac", "2", "-ar", "44100")."""
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(source), *args,
                    str(target)], check=True)
    return target


def run_in_threads(work, count: int) -> list:
    """Call ``work()`` from ``count`` threads at once; its results, or the first error raised."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(work) for _ in range(count)]
        return [future.result() for future in futures]


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


def tiny_config(tiny_dir: Path, **overrides) -> EngineConfig:
    values = {"models_file": str(tiny_dir / "models.toml"), "allow_downloads": False,
              "default_model": "tiny-f5", "vocoder_path": str(tiny_dir / "vocos")}
    values.update(overrides)
    return EngineConfig(**values)


@pytest.fixture(scope="session")
def tiny_engine(tiny_dir) -> TTSEngine:
    """One warm engine on the tiny models for the engine tests."""
    return TTSEngine(tiny_config(tiny_dir))


@pytest.fixture(autouse=True)
def tts_settings(tiny_dir, tmp_path):
    """Point Django at the tiny models and a private media folder; fresh engine per test."""
    from django.conf import settings

    from tts.services.runtime import reset_engine

    saved = {name: getattr(settings, name) for name in (
        "TTS_MODELS_FILE", "TTS_DEFAULT_MODEL", "TTS_PRELOAD", "TTS_VOCODER_PATH",
        "TTS_ALLOW_DOWNLOADS", "MEDIA_ROOT")}
    settings.TTS_MODELS_FILE = str(tiny_dir / "models.toml")
    settings.TTS_DEFAULT_MODEL = "tiny-f5"
    settings.TTS_PRELOAD = []
    settings.TTS_VOCODER_PATH = str(tiny_dir / "vocos")
    settings.TTS_ALLOW_DOWNLOADS = False
    settings.MEDIA_ROOT = str(tmp_path / "media")
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
