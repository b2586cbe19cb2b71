"""The real server says at start what it runs on, and is ready only after its warm-up."""

from __future__ import annotations

import pytest
import requests

pytestmark = pytest.mark.e2e


def test_start_up_log_names_the_device_and_readiness_follows_the_warm_up(tts_server):
    # The fixture returned once readiness answered 200: the warm-up must be logged by then.
    log = tts_server.log_text()
    assert "models run on " in log and "torch " in log
    assert "model tiny-f5 warmed up" in log
    health = requests.get(f"{tts_server.url}/api/tts/health/", timeout=10).json()
    assert log.count("models run on " + health["device"]) == 1
    assert health["device_info"]["memory_peak_mb"] > 0
    assert "tiny-f5" in health["loaded_models"]
