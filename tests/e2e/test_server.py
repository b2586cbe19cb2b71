"""Drive the real server over HTTP, as clients do."""

from __future__ import annotations

import base64
import io
import threading

import pytest
import requests
import soundfile as sf

from tests.support.audio import REF_TEXT
from tests.support.server import LiveServer

pytestmark = pytest.mark.e2e


def post_generate(server, ref_bytes, timeout=120, **fields):
    data = {"ref_text": REF_TEXT, "gen_text": "Over the wire.", "nfe_step": 8, **fields}
    return requests.post(f"{server.url}/api/tts/generate/", data=data,
                         files={"ref_audio": ("voice.wav", ref_bytes, "audio/wav")},
                         timeout=timeout)


def test_multipart_json_reply_decodes_to_the_stated_duration(tts_server, ref_bytes):
    reply = post_generate(tts_server, ref_bytes, seed=5, output_format="mp3")
    assert reply.status_code == 200, reply.text
    body = reply.json()
    samples, rate = sf.read(io.BytesIO(base64.b64decode(body["audio"])))
    assert rate == body["sample_rate"] == 24000
    assert len(samples) / rate == pytest.approx(body["duration"], abs=0.06)  # mp3 padding
    assert body["seed"] == 5 and body["model"] == "tiny-f5"


def test_json_body_and_raw_audio_reply(tts_server, ref_bytes):
    payload = {"ref_audio": base64.b64encode(ref_bytes).decode(), "ref_text": REF_TEXT,
               "gen_text": "JSON in, bytes out.", "nfe_step": 8, "model": "tiny-e2"}
    reply = requests.post(f"{tts_server.url}/api/tts/generate/", json=payload,
                          headers={"Accept": "audio/wav"}, timeout=120)
    assert reply.status_code == 200, reply.text
    assert reply.headers["Content-Type"] == "audio/wav"
    samples, rate = sf.read(io.BytesIO(reply.content))
    assert rate == int(reply.headers["X-Sample-Rate"])
    assert len(samples) / rate == pytest.approx(float(reply.headers["X-Duration"]), abs=0.01)
    assert reply.headers["X-Model"] == "tiny-e2"


def test_custom_model_configured_by_environment(tts_server, ref_bytes):
    models = {m["id"]: m for m in requests.get(f"{tts_server.url}/api/tts/models/",
                                               timeout=10).json()}
    assert models["Custom"]["architecture"] == "UNetT"
    reply = post_generate(tts_server, ref_bytes, model="Custom")
    assert reply.status_code == 200, reply.text
    assert reply.json()["model"] == "Custom"


def test_errors_over_http_are_json_with_a_request_id(tts_server, ref_bytes):
    reply = post_generate(tts_server, ref_bytes, nfe_step=100)
    assert reply.status_code == 400
    assert reply.json()["errors"][0]["attr"] == "nfe_step"
    assert reply.headers["X-Request-ID"]
    reply = requests.get(f"{tts_server.url}/no/such/page", timeout=10)
    assert reply.status_code == 404 and reply.json()["type"] == "client_error"


def test_concurrent_requests_all_succeed_with_correct_audio(tts_server, ref_bytes):
    results: dict[int, requests.Response] = {}
    start = threading.Barrier(6)

    def client(index: int) -> None:
        start.wait(30)
        results[index] = post_generate(tts_server, ref_bytes, seed=index,
                                       gen_text=f"Client number {index} says hello.")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    assert sorted(results) == list(range(6))
    for index, reply in results.items():
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["seed"] == index
        samples, rate = sf.read(io.BytesIO(base64.b64decode(body["audio"])))
        assert len(samples) / rate == pytest.approx(body["duration"], abs=0.01)
        # Each client got its own audio, exactly as the same request made alone gives it.
        alone = post_generate(tts_server, ref_bytes, seed=index,
                              gen_text=f"Client number {index} says hello.")
        assert alone.json()["audio"] == body["audio"]
    health = requests.get(f"{tts_server.url}/api/tts/health/", timeout=10).json()
    assert "tiny-f5" in health["loaded_models"] and health["queue_depth"] == 0


def test_a_full_queue_answers_503_with_retry_after_and_loses_nothing(
        tiny_dir, tmp_path, ref_bytes):
    server = LiveServer(tiny_dir / "models.toml", extra_env={"TTS_MAX_QUEUE": "1"}).start()
    try:
        results: list[requests.Response] = []
        start = threading.Barrier(6)
        long_text = " ".join(["A long sentence keeps the model busy for a while."] * 6)

        def client() -> None:
            start.wait(30)
            results.append(post_generate(server, ref_bytes, gen_text=long_text, nfe_step=64))

        threads = [threading.Thread(target=client) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(300)
        statuses = sorted(reply.status_code for reply in results)
        assert len(results) == 6
        assert set(statuses) <= {200, 503} and 200 in statuses and 503 in statuses, statuses
        for reply in results:
            if reply.status_code == 503:
                assert int(reply.headers["Retry-After"]) > 0
                assert reply.json()["errors"][0]["code"] == "engine_busy"
    finally:
        server.stop()
