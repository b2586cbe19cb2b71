"""A real gunicorn, started as `make serve` starts it, on a free port with the tiny models."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    def __init__(self, tiny_dir: Path, var_dir: Path, **env: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = var_dir / "server.log"
        self.env = {
            **os.environ, "HOST": "127.0.0.1", "PORT": str(self.port),
            "TTS_VAR_DIR": str(var_dir), "HF_HUB_OFFLINE": "1",
            "TTS_MODELS_FILE": str(tiny_dir / "models.toml"), "TTS_DEFAULT_MODEL": "tiny-f5",
            "TTS_PRELOAD": "tiny-f5", "TTS_VOCODER_PATH": str(tiny_dir / "vocos"),
            **env,
        }

    def start(self) -> LiveServer:
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT,
                       env=self.env, check=True, capture_output=True)
        self._log = self.log.open("wb")
        self.process = subprocess.Popen(
            [str(VENV_BIN / "gunicorn"), "-c", "config/gunicorn.py", "config.wsgi"],
            cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT)
        try:
            return self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> LiveServer:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-3000:]}")
            try:
                if requests.get(f"{self.url}/api/tts/health/ready/", timeout=2).ok:
                    return self
            except (requests.ConnectionError, requests.Timeout):  # still starting
                pass
            time.sleep(0.3)
        raise RuntimeError(f"server not ready in time: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._log.close()


@pytest.fixture(scope="session")
def tts_server(tiny_dir, tmp_path_factory):
    """Also configures the Custom model purely through TTS_CUSTOM_* environment variables."""
    server = LiveServer(
        tiny_dir, tmp_path_factory.mktemp("server-var"),
        TTS_CUSTOM_CKPT=str(tiny_dir / "tiny_unett.safetensors"),
        TTS_CUSTOM_VOCAB=str(tiny_dir / "vocab.txt"), TTS_CUSTOM_ARCH="UNetT",
        TTS_CUSTOM_CONFIG=(tiny_dir / "tiny_unett.json").read_text()).start()
    yield server
    server.stop()
