"""The real server, started as `make serve` starts it, on a free port with the tiny models."""

from __future__ import annotations

import pytest

from tests.support.asr import whisper_model_path
from tests.support.server import LiveServer


@pytest.fixture(scope="session")
def tts_server(tiny_dir):
    """Also configures the Custom model purely through TTS_CUSTOM_* environment variables,
    and speech recognition (Whisper tiny.en, offline) for the listening examples."""
    server = LiveServer(tiny_dir / "models.toml", extra_env={
        "TTS_ASR_MODEL": whisper_model_path(),
        "TTS_CUSTOM_CKPT": str(tiny_dir / "tiny_unett.safetensors"),
        "TTS_CUSTOM_VOCAB": str(tiny_dir / "vocab.txt"), "TTS_CUSTOM_ARCH": "UNetT",
        "TTS_CUSTOM_CONFIG": (tiny_dir / "tiny_unett.json").read_text()}).start()
    yield server
    server.stop()
