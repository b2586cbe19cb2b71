"""Run after installing PyTorch (scripts/install.sh, docker/build-venv.sh):
``python -m tts.engine.torch_install``.

Refuses a torchaudio built for another CUDA than torch (it would not import), and beside a
CPU torch removes the CUDA libraries of a CUDA torchaudio: f5-tts and vocos use only its
pure-Python parts (MelSpectrogram, Resample), which work once the ``.so`` files are gone, while
loading them fails (``OSError: libc10_cuda.so``). A reinstall brings them back, so this runs
after every install.
"""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path

import torch

from tts.engine.devices import build_cuda, installed_build, pairing_problem


def main() -> None:
    audio = installed_build("torchaudio")
    problem = pairing_problem(torch.version.cuda, audio)
    if problem:
        sys.exit(f"!! {problem}")
    if torch.version.cuda is None and build_cuda(audio):
        for library in (Path(sysconfig.get_paths()["purelib"]) / "torchaudio" / "lib").glob(
                "*.so"):
            library.unlink()
    print(">> torch", torch.__version__, "CUDA", torch.version.cuda, "torchaudio", audio)


if __name__ == "__main__":
    main()
