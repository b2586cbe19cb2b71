"""The layers hold (docs/architecture.md): web → openai → api → access → services →
execution → work → observability → models → engine, each calling only downward; no import
circle anywhere in tts/; a function-level import only defers a heavy optional dependency; a
celery-mode web process never loads torch. The contracts are import-linter's, in
pyproject.toml."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
TTS = ROOT / "tts"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
#: What a function may import: dependencies heavy enough to defer until first use (torch and
#: what pulls it in, f5-tts, speech recognition, plotting), and Django's start-up hook.
DEFERRED = ("torch", "torchaudio", "f5_tts", "faster_whisper", "vocos", "safetensors",
            "matplotlib", "pydub", "huggingface_hub", "tts.engine.engine", "tts.engine.devices",
            ".f5", ".registry", "wetext", "resemblyzer")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(root)})


def test_the_import_contracts_are_kept():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_forbidden_import_breaks_the_contracts(tmp_path):
    """The contracts can fail: an engine module that imports a service, and a service that
    imports torch, each break one."""
    copy = tmp_path / "project"
    copy.mkdir()
    shutil.copy(ROOT / "pyproject.toml", copy)
    shutil.copytree(TTS, copy / "tts", ignore=shutil.ignore_patterns("__pycache__", "static",
                                                                       "templates"))
    (copy / "tts" / "engine" / "upward.py").write_text("import tts.services.health\n")
    (copy / "tts" / "services" / "heavy.py").write_text("import torch\n")
    result = lint_imports(copy)
    assert result.returncode != 0
    assert "tts.engine.upward -> tts.services.health" in result.stdout, result.stdout
    assert "tts.services.heavy -> torch" in result.stdout, result.stdout


def test_there_is_no_import_circle_in_tts():
    graph = grimp.build_graph("tts", exclude_type_checking_imports=True)
    circles = [cycle for cycle in _strongly_connected(graph) if len(cycle) > 1]
    assert circles == []


def _strongly_connected(graph) -> list[list[str]]:
    """Tarjan's algorithm over the module graph, without recursion."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            module, children = work[-1]
            child = next((c for c in children if c in graph.modules), None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(
                        graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[module] = min(low[module], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[module])
            if low[module] == index[module]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == module:
                        break
                found.append(component)
    return found


def test_the_circle_finder_finds_a_circle(tmp_path):
    package = tmp_path / "circular"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from . import b\n")
    (package / "b.py").write_text("from . import a\n")
    sys.path.insert(0, str(tmp_path))
    try:
        graph = grimp.build_graph("circular")
    finally:
        sys.path.remove(str(tmp_path))
    assert sorted(max(_strongly_connected(graph), key=len)) == ["circular.a", "circular.b"]


def function_level_imports() -> list[tuple[str, int, str, str]]:
    """(file, line, imported module, the line's text) for every import inside a function."""
    found = []
    for path in sorted(TTS.rglob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        tree = ast.parse("\n".join(lines))
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom):  # module.name: a submodule, or a name
                    module = "." * node.level + (node.module or "")
                    names = [f"{module}.{alias.name}".replace("..", ".") if node.module
                             else module + alias.name for alias in node.names]
                else:
                    continue
                relative = str(path.relative_to(ROOT))
                found += [(relative, node.lineno, name, lines[node.lineno - 1])
                          for name in names]
    return found


def test_function_level_imports_only_defer_heavy_dependencies():
    offending = []
    for path, line, name, _ in function_level_imports():
        in_ready = path.endswith("apps.py")  # Django's hook: the app registry is ready there
        if not in_ready and not name.startswith(DEFERRED):
            offending.append(f"{path}:{line} imports {name}")
    assert offending == []


def test_deferred_imports_outside_the_engine_say_why():
    """Outside the engine (whose modules defer torch and f5-tts throughout), a deferred import
    carries a comment saying what it defers."""
    silent = [f"{path}:{line}" for path, line, _, text in function_level_imports()
              if not path.startswith("tts/engine/") and not path.endswith("apps.py")
              and "#" not in text]
    assert silent == []


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
    env = {**os.environ, "TTS_EXECUTION": "celery", "TTS_VAR_DIR": str(tmp_path),
           "CELERY_BROKER_URL": "redis://127.0.0.1:9/0"}  # nothing listens: no worker either
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env,
                   check=True, capture_output=True, timeout=120)
    probe = subprocess.run([sys.executable, "-c", WEB_TIER_PROBE], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=120)
    assert probe.returncode == 0, probe.stderr
    assert "torch loaded: False" in probe.stdout, probe.stdout
    assert "/api/tts/health/ 503" in probe.stdout  # the broker is down, and health says so
    assert "/api/tts/jobs/ 200" in probe.stdout and "/api/schema/ 200" in probe.stdout
