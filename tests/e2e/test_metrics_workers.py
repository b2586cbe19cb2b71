"""/metrics of a server with two worker processes (WEB_CONCURRENCY=2): whichever worker
answers a scrape, the counts are the sums over both (prometheus_client's multiprocess mode,
files in the server's own var folder, emptied at start)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
import requests
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.support.audio import REF_TEXT
from tests.support.server import LiveServer

pytestmark = pytest.mark.e2e

MODEL = {"model": "tiny-f5"}


@pytest.fixture(scope="module")
def two_workers(tiny_dir):
    server = LiveServer(tiny_dir / "models.toml", extra_env={"WEB_CONCURRENCY": "2"}).start()
    yield server
    server.stop()


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(found: dict, name: str, **labels) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def scrape(server) -> dict:
    # A new connection each time (no session): either worker may answer.
    reply = requests.get(f"{server.url}/metrics", timeout=30, headers={"Connection": "close"})
    assert reply.status_code == 200
    return samples(reply.text)


def per_worker(folder: Path, tmp_path: Path) -> dict[int, dict]:
    """Each process's own values, read from its files alone."""
    values = {}
    pids = {path.stem.rpartition("_")[2] for path in folder.glob("*.db")}
    for pid in pids:
        alone = tmp_path / pid
        alone.mkdir(parents=True)
        for path in folder.glob(f"*_{pid}.db"):
            shutil.copy(path, alone / path.name)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(alone))
        values[int(pid)] = samples(generate_latest(registry).decode())
    return values


def generate(server, ref_bytes) -> int:
    return requests.post(f"{server.url}/api/tts/generate/", timeout=120,
                         headers={"Connection": "close"},
                         data={"ref_text": REF_TEXT, "gen_text": "Two workers.", "nfe_step": 4},
                         files={"ref_audio": ("voice.wav", ref_bytes, "audio/wav")}).status_code


def test_counts_from_both_workers_add_up(two_workers, ref_bytes, tmp_path):
    folder = two_workers.var_dir / "prometheus"
    assert any(folder.glob("counter_*.db"))
    # Both workers preload the model; wait until every scrape sees it loaded twice.
    deadline = time.monotonic() + 180
    while value(scrape(two_workers), "tts_loaded_models", **MODEL) < 2:
        assert time.monotonic() < deadline, two_workers.log_tail()
        time.sleep(0.5)
    # New connections until each worker has generated at least once (bounded).
    sent = 0
    while sent < 40:
        assert generate(two_workers, ref_bytes) == 200
        sent += 1
        workers = [pid for pid, own in per_worker(folder, tmp_path / str(sent)).items()
                   if value(own, "tts_generations_total", **MODEL) > 0]
        if sent >= 4 and len(workers) == 2:
            break
    assert len(workers) == 2, f"one worker took all {sent} requests"
    own = per_worker(folder, tmp_path / "final")
    assert all(value(mine, "tts_generations_total", **MODEL) < sent for mine in own.values())
    assert sum(value(mine, "tts_generations_total", **MODEL) for mine in own.values()) == sent

    deadline = time.monotonic() + 30  # the live gauges are refreshed once a second
    while value(scrape(two_workers), "tts_queue_depth") != 0:
        assert time.monotonic() < deadline, two_workers.log_tail()
        time.sleep(0.2)
    for _ in range(6):  # whichever worker answers: the totals of both
        found = scrape(two_workers)
        assert value(found, "tts_generations_total", **MODEL) == sent
        assert value(found, "tts_generation_seconds_count", **MODEL) == sent
        assert value(found, "tts_queue_wait_seconds_count", **MODEL) == sent
        assert value(found, "tts_loaded_models", **MODEL) == 2
        assert value(found, "tts_loaded_models_count") == 2
        assert value(found, "tts_queue_depth") == 0
        assert value(found, "django_http_responses_total_by_status_total", status="200") >= sent
