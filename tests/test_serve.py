"""config/serve.py: what the server process sets up before Django and uvicorn start."""

from __future__ import annotations

import os
import subprocess
import sys

from config.serve import prepare_metrics_folder
from tests.support.server import ROOT


def test_the_metrics_folder_is_emptied_at_start(tmp_path, monkeypatch):
    monkeypatch.setenv("TTS_VAR_DIR", str(tmp_path))
    # Empty counts as unset; monkeypatch removes what prepare_metrics_folder sets.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")
    assert prepare_metrics_folder(1) is None  # one process: its own registry
    folder = tmp_path / "prometheus"
    folder.mkdir()
    (folder / "counter_4242.db").write_bytes(b"last run")
    assert prepare_metrics_folder(2) == folder
    assert list(folder.iterdir()) == []
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(folder)


def arena_limit(**env: str) -> str:
    """What limit_malloc_arenas() does in a fresh process: its result and the variable."""
    clean = {name: value for name, value in os.environ.items() if name != "MALLOC_ARENA_MAX"}
    done = subprocess.run([sys.executable, "-c", "import os; from config.serve import "
                           "limit_malloc_arenas as f; print(f(), os.environ['MALLOC_ARENA_MAX'])"],
                          cwd=ROOT, env={**clean, **env}, capture_output=True, text=True,
                          timeout=60, check=True)
    return done.stdout.strip()


def test_malloc_arenas_are_limited_unless_the_operator_chose():
    assert arena_limit() == "True 2"  # glibc: mallopt, and exported for worker processes
    assert arena_limit(MALLOC_ARENA_MAX="4") == "False 4"
