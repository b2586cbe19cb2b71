"""The benchmark scripts stay runnable: each is a module of the ``bench`` package that starts
with ``python -m bench.NAME``, so a broken import fails here rather than in a long run."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MODULES = sorted(path.stem for path in (ROOT / "bench").glob("*.py") if path.stem != "__init__")
SCRIPTS = [name for name in MODULES if name != "common"]


def test_the_bench_package_has_its_scripts():
    assert {"common", "ttfa", "rtf", "overhead"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_each_bench_module_imports_as_a_package_module(name):
    module = importlib.import_module(f"bench.{name}")
    assert module.__name__ == f"bench.{name}"
    source = (ROOT / "bench" / f"{name}.py").read_text()
    assert "sys.path" not in source, "bench modules share tests/support through package imports"


@pytest.mark.parametrize("name", SCRIPTS)
def test_each_bench_script_starts_with_python_dash_m(name):
    done = subprocess.run([sys.executable, "-m", f"bench.{name}", "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: ")


def test_run_all_runs_existing_bench_modules():
    script = (ROOT / "bench" / "run_all.sh").read_text()
    named = re.findall(r"^run [\w-]+ \S+ -m bench\.(\w+)", script, flags=re.MULTILINE)
    assert len(named) >= 8
    assert set(named) <= set(SCRIPTS)
    assert not re.search(r"bench/\w+\.py", script), "run_all.sh starts scripts as modules"
