"""scripts/install.sh picks the PyTorch build from TORCH_VARIANT, torch and torchaudio from one
index. pip is replaced by a recorder (the indexes are not reachable from the test machines);
everything else in the script runs for real against this environment."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def recording_venv(tmp_path) -> tuple[Path, Path]:
    """A VENV whose python records ``-m pip ...`` calls and runs everything else for real."""
    venv, log = tmp_path / "venv", tmp_path / "pip.log"
    (venv / "bin").mkdir(parents=True)
    shim = venv / "bin" / "python"
    shim.write_text(f'#!/bin/sh\nif [ "$1" = "-m" ] && [ "$2" = "pip" ]; then\n'
                    f'  echo "$*" >> "{log}"; exit 0\nfi\nexec "{sys.executable}" "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    return venv, log


def run_install(venv: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "scripts/install.sh"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "VENV": str(venv), **env})


def torch_install(log: Path) -> str:
    return next(line for line in log.read_text().splitlines() if "torch==" in line)


def test_default_takes_torch_and_torchaudio_from_pypi(recording_venv):
    venv, log = recording_venv
    done = run_install(venv)
    assert done.returncode == 0, done.stderr
    line = torch_install(log)
    assert "--index-url" not in line
    assert line.endswith("torch==2.13.0 torchaudio==2.11.0")
    assert ">> models run on" in done.stdout  # the machine's device, said at the end
    from tts.engine.precision import resolve_precision

    chosen = resolve_precision("auto", "cpu")  # the test machines have no GPU
    assert f"in {chosen.name} ({chosen.reason})" in done.stdout, done.stdout


def test_the_summary_names_the_precision_the_server_will_use(recording_venv):
    venv, _ = recording_venv
    done = run_install(venv, TTS_DEVICE="cpu", TTS_PRECISION="bfloat16")
    assert done.returncode == 0, done.stderr
    assert "models run on cpu" in done.stdout and "in bfloat16 (TTS_PRECISION)" in done.stdout


@pytest.mark.parametrize("variant", ["cu126", "cpu"])
def test_variant_pins_both_builds_to_one_pytorch_index(recording_venv, variant):
    venv, log = recording_venv
    done = run_install(venv, TORCH_VARIANT=variant)
    assert done.returncode == 0, done.stderr
    assert torch_install(log).endswith(
        f"--index-url https://download.pytorch.org/whl/{variant} "
        f"torch==2.13.0+{variant} torchaudio==2.11.0+{variant}")


def test_unknown_variant_is_refused(recording_venv):
    venv, log = recording_venv
    done = run_install(venv, TORCH_VARIANT="cu128")
    assert done.returncode == 2 and "not one of cpu, cu126, cu130" in done.stderr
    assert "torch==" not in log.read_text()
