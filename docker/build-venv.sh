#!/bin/sh
# The Dockerfile's build stage: a virtual environment in /opt/venv with the PyTorch build that
# TORCH_VARIANT names and everything pyproject.toml lists. The same choices as
# scripts/install.sh, in three steps so that Docker caches each as a layer of its own:
#
#   build-venv.sh torch     torch and torchaudio, together
#   build-venv.sh deps      the project's dependencies (pyproject.toml, EXTRAS)
#   build-venv.sh finish    the torchaudio/torch pairing check, pip check (scripts/pip_check.sh)
#
# Wheels in /wheelhouse (the build context's wheelhouse/ folder) win: torch and torchaudio
# are taken from there when it holds the pinned build, and it is searched before any index
# for the rest. An extra CA bundle (BuildKit secret `ca`, at /run/secrets/ca) is trusted by
# pip, for networks whose HTTPS goes through a TLS-inspecting proxy.
set -eu

TORCH_VERSION=2.13.0
TORCHAUDIO_VERSION=2.11.0
TORCH_VARIANT=${TORCH_VARIANT:-cpu}
TORCH_INDEX_URL=${TORCH_INDEX_URL:-}
PYPI_INDEX_URL=${PYPI_INDEX_URL:-https://pypi.org/simple}
EXTRAS=${EXTRAS:-}
VENV=/opt/venv
PIP="$VENV/bin/python -m pip --disable-pip-version-check"
if [ -s /run/secrets/ca ]; then
    export PIP_CERT=/run/secrets/ca
fi
FIND_LINKS=""
if [ -d /wheelhouse ] && ls /wheelhouse/*.whl >/dev/null 2>&1; then
    FIND_LINKS="--find-links /wheelhouse"
fi

case "$TORCH_VARIANT" in
    cpu)
        # torchaudio: the +cpu build from the CPU index; where TORCH_INDEX_URL names an index
        # that has only PyPI's (CUDA) build, "finish" removes its compiled extension, as
        # scripts/install.sh does (f5-tts and vocos use only its pure-Python parts).
        TORCH_PINS="torch==$TORCH_VERSION+cpu torchaudio==$TORCHAUDIO_VERSION" ;;
    cu126 | cu130)
        TORCH_PINS="torch==$TORCH_VERSION+$TORCH_VARIANT torchaudio==$TORCHAUDIO_VERSION+$TORCH_VARIANT" ;;
    pypi)
        # ===: exactly PyPI's builds, never a +cpu wheel a wheelhouse may hold.
        TORCH_PINS="torch===$TORCH_VERSION torchaudio===$TORCHAUDIO_VERSION"
        TORCH_INDEX_URL=${TORCH_INDEX_URL:-$PYPI_INDEX_URL} ;;
    *)
        echo "TORCH_VARIANT=$TORCH_VARIANT is not one of cpu, cu126, cu130, pypi" >&2
        exit 2 ;;
esac
TORCH_INDEX_URL=${TORCH_INDEX_URL:-https://download.pytorch.org/whl/$TORCH_VARIANT}

case "${1:-}" in
    torch)
        python3 -m venv "$VENV"
        $PIP install -q --upgrade pip
        # A wheel of the exact build in the wheelhouse is installed first, without asking
        # any index; the index then supplies only what is still missing.
        if [ -n "$FIND_LINKS" ]; then
            for pin in $TORCH_PINS; do
                $PIP install -q --no-deps --no-index $FIND_LINKS "$pin" 2>/dev/null \
                    && echo ">> $pin from the wheelhouse" || true
            done
        fi
        echo ">> PyTorch ($TORCH_VARIANT) from $TORCH_INDEX_URL: $TORCH_PINS"
        # shellcheck disable=SC2086
        $PIP install -q $FIND_LINKS --index-url "$TORCH_INDEX_URL" \
            --extra-index-url "$PYPI_INDEX_URL" $TORCH_PINS
        ;;
    deps)
        spec="/src"
        [ -n "$EXTRAS" ] && spec="/src[$EXTRAS]"
        # shellcheck disable=SC2086
        $PIP install -q $FIND_LINKS --index-url "$PYPI_INDEX_URL" "$spec"
        # shellcheck disable=SC2086
        $PIP install -q --no-deps $FIND_LINKS --index-url "$PYPI_INDEX_URL" \
            -r /src/requirements-nodeps.txt
        # Only the dependencies stay: the image runs the project from /app.
        $PIP uninstall -q -y f5-tts-server
        ;;
    finish)
        "$VENV/bin/python" -m tts.engine.torch_install
        sh /usr/local/bin/pip-check "$VENV/bin/python"
        ;;
    *)
        echo "usage: build-venv.sh torch|deps|finish" >&2
        exit 2 ;;
esac
