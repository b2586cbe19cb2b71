"""The layers call downward only (DESIGN.md §5): api → services → engine; the engine knows
nothing of Django, and the HTTP layer knows nothing of the engine but its error types."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TTS = Path(__file__).resolve().parent.parent / "tts"


def imported_modules(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (TTS / package).rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        found[str(path.relative_to(TTS))] = names
    return found


def test_the_engine_imports_no_django_and_nothing_above_it():
    for module, names in imported_modules("engine").items():
        assert not {n for n in names if n.split(".")[0] == "django"}, module
        assert not {n for n in names if n.startswith(("tts.api", "tts.services"))}, module


@pytest.mark.parametrize("package", ["api", "openai"])
def test_the_http_layer_uses_services_not_engine_internals(package):
    for module, names in imported_modules(package).items():
        engine = {n for n in names if n.startswith("tts.engine")}
        assert engine <= {"tts.engine.errors"}, (module, engine)


def test_services_use_the_engine_facade_not_its_parts():
    """No service reaches into the engine's registry, model pool or queue."""
    for path in (TTS / "services").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for internal in ("tts.engine.registry", "tts.engine.pool", "tts.engine.scheduler",
                         "tts.engine.backends", ".registry.", ".pool.", ".queue."):
            assert internal not in text, (path.name, internal)


WEB_TIER_PROBE = """
import os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
import config.asgi  # what `make serve` loads
from django.test import Client
client = Client(HTTP_HOST="localhost")
for path in ("/api/tts/health/", "/api/tts/models/", "/api/tts/jobs/", "/api/tts/voices/",
             "/v1/models", "/api/schema/", "/metrics"):
    print(path, client.get(path).status_code)
print("torch loaded:", any(name.split(".")[0] == "torch" for name in sys.modules))
"""


def test_a_celery_mode_web_process_never_imports_torch(tmp_path):
    """The web tier of a scale-out deployment holds no model: its views, services and
    schema load without torch (tests/e2e/test_scale_out.py checks it with real workers)."""
    import subprocess
    import sys

    env = {**__import__("os").environ, "TTS_EXECUTION": "celery", "TTS_VAR_DIR": str(tmp_path),
           "CELERY_BROKER_URL": "redis://127.0.0.1:9/0"}  # nothing listens: no worker either
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=TTS.parent, env=env,
                   check=True, capture_output=True, timeout=120)
    probe = subprocess.run([sys.executable, "-c", WEB_TIER_PROBE], cwd=TTS.parent, env=env,
                           capture_output=True, text=True, timeout=120)
    assert probe.returncode == 0, probe.stderr
    assert "torch loaded: False" in probe.stdout, probe.stdout
    assert "/api/tts/health/ 503" in probe.stdout  # the broker is down, and health says so
    assert "/api/tts/jobs/ 200" in probe.stdout and "/api/schema/ 200" in probe.stdout
