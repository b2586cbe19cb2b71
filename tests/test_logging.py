"""Log lines: JSON when asked (LOG_FORMAT=json), with the request id, the key and the timings
(the 500 that is logged once with its traceback: tests/api/test_generate.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.support.server import ROOT

SNIPPET = """
import logging, django
django.setup()
from tts.observability.request_ids import _request_id, bind_key_id
from tts.observability.events import log_generation
_request_id.set("req-json-1")
bind_key_id("k3y")
log_generation("tiny-f5", 1.5, {"total_seconds": 0.4, "real_time_factor": 0.2,
                                "reference_cached": True}, streamed=True)
try:
    raise RuntimeError("kaboom")
except RuntimeError:
    logging.getLogger("tts.test").exception("it failed")
"""


def test_json_log_lines_carry_request_key_model_and_timings():
    env = {**os.environ, "LOG_FORMAT": "json", "DJANGO_SETTINGS_MODULE": "config.settings"}
    done = subprocess.run([sys.executable, "-c", SNIPPET], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    generation = next(line for line in lines if line["logger"] == "tts.observability.events")
    assert generation["request_id"] == "req-json-1" and generation["key_id"] == "k3y"
    assert generation["model"] == "tiny-f5" and generation["audio_seconds"] == 1.5
    assert generation["real_time_factor"] == 0.2 and generation["streamed"] is True
    failure = next(line for line in lines if line["logger"] == "tts.test")
    assert failure["level"] == "ERROR" and "Traceback" in failure["exc_info"]
    assert "kaboom" in failure["exc_info"] and failure["request_id"] == "req-json-1"
