#!/usr/bin/env bash
# Set up everything the project needs on a fresh Debian/Ubuntu machine:
# system packages (ffmpeg, espeak-ng, libsndfile), a .venv, PyTorch and the
# f5-tts stack, and the project itself with its ASR and test extras.
# Idempotent: the Makefile reruns it only when pyproject.toml or this file change.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
# f5-tts and this project need Python 3.11 or 3.12; prefer those when several are installed.
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3.12 || command -v python3)}

# --- System packages -------------------------------------------------------
need=()
command -v ffmpeg >/dev/null || need+=(ffmpeg)
command -v espeak-ng >/dev/null || need+=(espeak-ng)
command -v jq >/dev/null || need+=(jq)  # used by the README examples
ldconfig -p 2>/dev/null | grep -q libsndfile || need+=(libsndfile1)
# A real browser for the docs tests (tests/e2e/test_docs_browser.py): Debian's chromium and
# chromium-driver. Optional: where they cannot be installed, those tests are skipped.
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
    echo ">> installing ${browser[*]} for the docs browser tests"
    apt_install "${browser[@]}" || echo ">> could not install them: those tests will be skipped"
fi

# --- Python environment ----------------------------------------------------
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
pip_install() {
    # Some pip configurations name index folders that do not exist; keep their noise out.
    "$VENV/bin/python" -m pip install -q "$@" 2> >(grep -v "^WARNING: Location" >&2)
}
pip_install --upgrade pip setuptools wheel

# PyTorch first, alone: on machines that carry a local CPU wheel of this exact
# version pip takes it; elsewhere PyPI gives the CUDA build, right for GPU users.
pip_install "torch==2.13.0"

# Everything else (f5-tts, torchaudio 2.11, torchcodec 0.13, the web stack, ASR, tests).
pip_install -e ".[asr,test]"

# PyPI's torchaudio 2.11.0 is a CUDA build whose compiled extension cannot load
# beside a CPU torch (OSError: libc10_cuda.so). f5-tts and vocos only use its
# pure-Python parts (transforms.MelSpectrogram, transforms.Resample), which work
# once the .so files are gone. Only do it where torch has no CUDA, and redo it
# after every install because a reinstall brings the files back.
if ! "$VENV/bin/python" -c "import torch, sys; sys.exit(0 if torch.version.cuda else 1)"; then
    site=$("$VENV/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    rm -f "$site"/torchaudio/lib/*.so
fi

"$VENV/bin/python" -m pip check
echo ">> environment ready in $VENV"
