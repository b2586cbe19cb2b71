"""HTTP checks of a running container, for scripts/test_images.sh: one generation, or one
job, against a server's address, with the audio decoded for real.

    python scripts/image_check.py generate http://127.0.0.1:8000
    python scripts/image_check.py job http://127.0.0.1:8000      # prints the job id
"""

from __future__ import annotations

import io
import sys
import time

import numpy as np
import requests
import soundfile

REF_TEXT = "Some call me nature, others call me mother nature."


def reference_wav(seconds: float = 2.0, rate: int = 24000) -> bytes:
    """A two-second voiced-like clip: a 150 Hz tone with harmonics and a little noise."""
    t = np.arange(int(seconds * rate)) / rate
    tone = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 6))
    samples = 0.2 * tone / np.abs(tone).max() + 0.01 * np.random.default_rng(0).normal(size=t.size)
    buffer = io.BytesIO()
    soundfile.write(buffer, samples.astype(np.float32), rate, format="WAV")
    return buffer.getvalue()


def decoded_seconds(data: bytes) -> float:
    """Decode WAV bytes; fail unless they hold finite, non-silent audio."""
    samples, rate = soundfile.read(io.BytesIO(data), dtype="float32")
    assert rate > 0 and samples.size > 0, "no audio"
    assert np.isfinite(samples).all(), "audio holds NaN or inf"
    assert np.abs(samples).max() > 0, "audio is silent"
    return samples.shape[0] / rate


def form(text: str) -> tuple[dict, dict]:
    return ({"ref_text": REF_TEXT, "gen_text": text, "seed": "7"},
            {"ref_audio": ("voice.wav", reference_wav(), "audio/wav")})


def generate(base: str) -> None:
    data, files = form("Hello from a container.")
    response = requests.post(f"{base}/api/tts/generate/", data=data, files=files,
                             headers={"Accept": "audio/wav"}, timeout=300)
    assert response.status_code == 200, (response.status_code, response.text[:500])
    assert response.headers["Content-Type"].startswith("audio/wav"), response.headers
    seconds = decoded_seconds(response.content)
    print(f"generated {seconds:.2f} s of audio ({len(response.content)} bytes of WAV)")


def job(base: str, deadline_seconds: float = 300) -> None:
    data, files = form("A job for a worker container. It has two sentences.")
    response = requests.post(f"{base}/api/tts/jobs/", data=data, files=files, timeout=60)
    assert response.status_code == 202, (response.status_code, response.text[:500])
    job_id = response.json()["id"]
    deadline = time.monotonic() + deadline_seconds
    while True:
        state = requests.get(f"{base}/api/tts/jobs/{job_id}/", timeout=30).json()
        if state["status"] in ("succeeded", "failed", "cancelled"):
            break
        assert time.monotonic() < deadline, f"job still {state['status']}: {state}"
        time.sleep(1)
    assert state["status"] == "succeeded", state
    audio = requests.get(f"{base}/api/tts/jobs/{job_id}/audio/",
                         headers={"Accept": "audio/wav"}, timeout=60)
    assert audio.status_code == 200, (audio.status_code, audio.text[:500])
    seconds = decoded_seconds(audio.content)
    print(f"job {job_id} succeeded: {seconds:.2f} s of audio", file=sys.stderr)
    print(job_id)


if __name__ == "__main__":
    action, base = sys.argv[1], sys.argv[2].rstrip("/")
    {"generate": generate, "job": job}[action](base)
