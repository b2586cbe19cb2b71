"""`TTS_DEMO=1 make serve` itself, from an empty var folder, answers generation requests, and
its first start logs no warning (every message on the way is true)."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
import requests

from tests.support.audio import REF_TEXT
from tests.support.server import ROOT, free_port

pytestmark = pytest.mark.e2e


def test_demo_make_serve(tmp_path, ref_bytes):
    port = free_port()
    env = {**os.environ, "TTS_DEMO": "1", "TTS_VAR_DIR": str(tmp_path / "var"),
           "PORT": str(port), "HOST": "127.0.0.1", "HF_HUB_OFFLINE": "1"}
    for name in ("TTS_MODELS_FILE", "TTS_DEFAULT_MODEL", "TTS_PRELOAD"):
        env.pop(name, None)
    import torch

    if torch.version.cuda and not torch.cuda.is_available():
        # A CUDA build without a GPU warns, truly (tts.W001); say the CPU is intended.
        env["TTS_DEVICE"] = "cpu"
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(["make", "serve"], cwd=ROOT, env=env, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert process.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            try:
                if requests.get(f"{url}/api/tts/health/ready/", timeout=2).ok:
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass
            time.sleep(0.5)
        else:
            pytest.fail("make serve did not become ready: "
                        + (tmp_path / "serve.log").read_text()[-3000:])
        reply = requests.post(f"{url}/api/tts/generate/", timeout=120,
                              data={"ref_text": REF_TEXT, "gen_text": "Demo mode works.",
                                    "nfe_step": 8},
                              files={"ref_audio": ("voice.wav", ref_bytes, "audio/wav")})
        assert reply.status_code == 200, reply.text
        assert reply.json()["model"] == "tiny-f5"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
        log.close()
    text = (tmp_path / "serve.log").read_text()
    warnings = [line for line in text.splitlines()
                if " WARNING " in line or " ERROR " in line or "System check identified" in line
                or "loads on first use" in line]
    assert not warnings, "\n".join(warnings)
