"""Device selection and per-device precision, as upstream chooses them."""

from __future__ import annotations

import torch

from .errors import ModelUnavailable


def resolve_device(requested: str = "auto") -> str:
    """``auto`` picks cuda, then mps, then cpu; an explicit device must exist."""
    requested = (requested or "auto").strip().lower()
    if requested == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ModelUnavailable(f"TTS_DEVICE={requested} but no CUDA device is available; "
                                   "set TTS_DEVICE=auto or cpu.")
        index = int(requested.split(":", 1)[1]) if ":" in requested else 0
        if index >= torch.cuda.device_count():
            raise ModelUnavailable(f"TTS_DEVICE={requested} but only {torch.cuda.device_count()} "
                                   "CUDA device(s) exist.")
        return requested
    if requested == "mps" and not torch.backends.mps.is_available():
        raise ModelUnavailable("TTS_DEVICE=mps but MPS is not available; set TTS_DEVICE=auto.")
    if requested not in ("cpu", "mps"):
        raise ModelUnavailable(f"TTS_DEVICE={requested!r} is not one of auto, cpu, cuda, "
                               "cuda:N, mps.")
    return requested


def free_device_memory(device: str) -> None:
    if device.startswith("cuda") and torch.cuda.is_available():
        torch.cuda.empty_cache()
