#!/usr/bin/env bash
# Set up everything the project needs on a fresh Debian/Ubuntu machine:
# system packages (ffmpeg, espeak-ng, libsndfile), a .venv, PyTorch and the
# f5-tts stack, and the project itself with its ASR and test extras.
# Idempotent: the Makefile reruns it only when pyproject.toml or this file change.
#
# Which PyTorch build (docs/installation.md has a table: driver needed, venv size, how to check):
#   TORCH_VARIANT=        (default) PyPI's torch: on Linux x86_64 a CUDA 13.0 build, which
#                         needs NVIDIA driver 580 or newer (nvidia-smi: "CUDA Version: 13.x")
#   TORCH_VARIANT=cu130   the same CUDA 13.0 build from download.pytorch.org
#   TORCH_VARIANT=cu126   CUDA 12.6, for drivers 525 to 575 (nvidia-smi: "CUDA Version: 12.x")
#                         and for Pascal/Volta GPUs, which CUDA 13 builds no longer support
#   TORCH_VARIANT=cpu     no CUDA at all: machines without an NVIDIA GPU (3.8 GB smaller)
#   TORCH_INDEX_URL=...   any other wheel index (a mirror, ROCm); overrides TORCH_VARIANT
# torch and torchaudio always come from the same index: torchaudio refuses to import beside a
# torch built for another CUDA version. To switch builds in an existing venv, run this script
# again with the new variant (or `make clean` first to go back to the default).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
# torch and torchaudio move together. torchaudio 2.11.0 is its last release, built for CUDA
# 12.6 and 13.0 (and CPU); a torch built for any other CUDA version (PyPI's torch 2.15 is
# CUDA 13.2) makes torchaudio refuse to import on every GPU install while CPU tests stay green.
# tests/engine/test_devices.py::test_installed_torch_and_torchaudio_builds_agree guards it.
TORCH_VERSION=2.13.0
TORCHAUDIO_VERSION=2.11.0
TORCH_VARIANT=${TORCH_VARIANT:-}
TORCH_INDEX_URL=${TORCH_INDEX_URL:-}
# f5-tts and this project need Python 3.11 or 3.12; prefer those when several are installed.
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3.12 || command -v python3)}

# --- System packages -------------------------------------------------------
need=()
command -v ffmpeg >/dev/null || need+=(ffmpeg)
command -v espeak-ng >/dev/null || need+=(espeak-ng)
command -v jq >/dev/null || need+=(jq)  # used by the docs' curl examples
ldconfig -p 2>/dev/null | grep -q libsndfile || need+=(libsndfile1)
# A real browser for the page tests (tests/e2e/test_docs_browser.py, test_studio_browser.py):
# Debian's chromium and chromium-driver. Optional: where they cannot be installed, those tests
# are skipped. (Their accessibility check fetches axe-core with `npm pack` into var/.)
browser=()
[ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] || browser=(chromium chromium-driver)
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
if [ $((${#need[@]} + ${#browser[@]})) -gt 0 ]; then
    $SUDO apt-get update -qq
fi
apt_install() {
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        "$@" >/dev/null
}
if [ ${#need[@]} -gt 0 ]; then
    echo ">> installing system packages: ${need[*]}"
    apt_install "${need[@]}"
fi
if [ ${#browser[@]} -gt 0 ]; then
    echo ">> installing ${browser[*]} for the browser tests"
    apt_install "${browser[@]}" || echo ">> could not install them: those tests will be skipped"
fi

# --- Python environment ----------------------------------------------------
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
pip_install() {
    # Some pip configurations name index folders that do not exist; keep their noise out.
    "$VENV/bin/python" -m pip install -q "$@" 2> >(grep -v "^WARNING: Location" >&2)
}
pip_install --upgrade pip setuptools wheel

# PyTorch and torchaudio first, together from one index. By default from PyPI: on machines
# that carry a local CPU wheel of this exact torch pip takes it; elsewhere PyPI gives the
# CUDA 13.0 build. A named variant pins the build tag (+cu126, +cpu), so rerunning with
# another variant replaces the installed build.
case "$TORCH_VARIANT" in
    "" | pypi) torch_pins=("torch==$TORCH_VERSION" "torchaudio==$TORCHAUDIO_VERSION") ;;
    cpu | cu126 | cu130)
        torch_pins=("torch==$TORCH_VERSION+$TORCH_VARIANT"
                    "torchaudio==$TORCHAUDIO_VERSION+$TORCH_VARIANT")
        TORCH_INDEX_URL=${TORCH_INDEX_URL:-https://download.pytorch.org/whl/$TORCH_VARIANT} ;;
    *)
        echo "TORCH_VARIANT=$TORCH_VARIANT is not one of cpu, cu126, cu130 (or empty for PyPI);" \
             "use TORCH_INDEX_URL for any other index." >&2
        exit 2 ;;
esac
if [ -n "$TORCH_INDEX_URL" ]; then
    echo ">> PyTorch from $TORCH_INDEX_URL: ${torch_pins[*]}"
    pip_install --index-url "$TORCH_INDEX_URL" "${torch_pins[@]}"
else
    pip_install "${torch_pins[@]}"
fi

# Everything else (f5-tts, torchaudio 2.11, torchcodec 0.13, the web stack, ASR, tests).
pip_install -e ".[asr,test]"
pip_install --no-deps -r requirements-nodeps.txt

# Check the torch/torchaudio pair; beside a CPU torch, drop the CUDA libraries of PyPI's
# torchaudio (it would not load; its pure-Python parts are what f5-tts uses).
"$VENV/bin/python" -m tts.engine.torch_install

sh scripts/pip_check.sh "$VENV/bin/python"
# Say what this machine will run on, and what to do if a GPU build cannot use the GPU.
# The precision is the one the server will pick (TTS_PRECISION, `auto` by default), so a CPU
# with native bfloat16 is reported as bfloat16, as the server's own start-up line says.
"$VENV/bin/python" - <<'PY'
import os

from tts.engine import devices
from tts.engine.errors import ModelUnavailable
from tts.engine.precision import resolve_precision

facts = devices.collect_facts()
plan = devices.plan_device(os.environ.get("TTS_DEVICE") or "auto", facts)
precision = None
if plan.device is not None:
    try:
        chosen = resolve_precision(os.environ.get("TTS_PRECISION") or "auto", plan.device)
        precision = f"{chosen.name} ({chosen.reason})"
    except ModelUnavailable as exc:
        print("!!", exc.message)
print(">> torch", facts.torch_version, "torchaudio", facts.torchaudio_version)
print(">>", devices.summary(plan, facts, precision))
for warning in plan.warnings:
    print("!!", warning)
PY
echo ">> environment ready in $VENV"
