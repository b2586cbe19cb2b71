"""GET /metrics: Prometheus text that a real parser reads, and values that move."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.helpers import GENERATE


def scrape(client, **headers) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_generation_moves_our_metrics_and_django_prometheus_ones(client, form):
    before = scrape(client)
    assert client.post(GENERATE, form()).status_code == 200
    assert client.post(GENERATE, form()).status_code == 200  # same clip: cache hit
    assert client.post(GENERATE, form(speed=9)).status_code == 400
    after = scrape(client)

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("tts_generations_total", model="tiny-f5") == 2
    assert moved("tts_generation_seconds_count", model="tiny-f5") == 2
    assert moved("tts_real_time_factor_count", model="tiny-f5") == 2
    assert moved("tts_queue_wait_seconds_count", model="tiny-f5") == 2
    assert moved("tts_generated_audio_seconds_total", model="tiny-f5") > 0.3
    assert moved("tts_reference_cache_total", result="hit") >= 1
    assert moved("tts_reference_cache_total", result="miss") + moved(
        "tts_reference_cache_total", result="hit") == 2
    assert moved("tts_errors_total", code="max_value", status="400") == 1
    assert value(after, "tts_loaded_models", model="tiny-f5") == 1
    assert value(after, "tts_queue_depth") == 0
    assert ("tts_stream_first_audio_seconds_count", ()) not in after  # defined, no stream yet
    assert any(name == "django_http_requests_total_by_method_total"
               and dict(labels).get("method") == "POST" for name, labels in after)


def test_model_load_seconds_observed_on_first_use(client, form):
    before = scrape(client)
    assert client.post(GENERATE, form()).status_code == 200  # each test has a fresh engine
    after = scrape(client)
    assert (value(after, "tts_model_load_seconds_count", model="tiny-f5")
            - value(before, "tts_model_load_seconds_count", model="tiny-f5")) == 1


def test_asr_seconds_observed(client, settings, ref_wav):
    from tests.support.asr import whisper_model_path
    from tests.support.helpers import reset_engine

    settings.TTS_ASR_MODEL = whisper_model_path()
    reset_engine()
    before = scrape(client)
    reply = client.post(GENERATE, {"ref_audio": ref_wav.open("rb"), "gen_text": "Hi.",
                                   "nfe_step": 4})
    assert reply.status_code == 200, reply.content
    after = scrape(client)
    assert value(after, "tts_asr_seconds_count") - value(before, "tts_asr_seconds_count") == 1


def test_metrics_token(client, settings):
    settings.TTS_METRICS_TOKEN = "scrape-secret"
    refused = client.get("/metrics")
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["code"] == "not_authenticated"
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert scrape(client, HTTP_AUTHORIZATION="Bearer scrape-secret")


@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume")
def test_streamed_generation_is_counted(client, form):
    before = scrape(client)
    streamed = client.post(GENERATE, form(stream="true"), HTTP_ACCEPT="audio/wav")
    assert streamed.status_code == 200 and b"".join(streamed)
    after = scrape(client)
    assert (value(after, "tts_generations_total", model="tiny-f5")
            - value(before, "tts_generations_total", model="tiny-f5")) == 1
    assert (value(after, "tts_generated_audio_seconds_total", model="tiny-f5")
            - value(before, "tts_generated_audio_seconds_total", model="tiny-f5")) > 0.3
    assert (value(after, "tts_stream_first_audio_seconds_count", model="tiny-f5")
            - value(before, "tts_stream_first_audio_seconds_count", model="tiny-f5")) == 1
    # The underrun counter is there for the model (how many depends on the machine's speed).
    assert ("tts_stream_underruns_total", (("model", "tiny-f5"),)) in after


def test_registering_the_engine_collector_asks_health_nothing():
    """prometheus_client calls collect() to learn the names of a collector without
    describe(): the health facts (in celery mode, the broker's worker list) would be read by
    every process that sets Django up, `manage.py migrate` included, before Redis is up."""
    from prometheus_client import CollectorRegistry

    from tts.observability.metrics import EngineStateCollector

    asked = []
    registry = CollectorRegistry(auto_describe=True)
    registry.register(EngineStateCollector(lambda: asked.append(1) or {}))
    assert asked == []


def test_migrate_in_celery_mode_never_touches_an_absent_broker(tmp_path):
    """A container's `migrate` runs before Redis may be up: it must not log the broker."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "TTS_EXECUTION": "celery", "TTS_VAR_DIR": str(tmp_path),
           "CELERY_BROKER_URL": "redis://127.0.0.1:1/0",
           "DJANGO_SETTINGS_MODULE": "config.settings"}
    env.pop("DATABASE_URL", None)
    done = subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "broker" not in done.stderr.lower(), done.stderr
    assert "Traceback" not in done.stderr, done.stderr
