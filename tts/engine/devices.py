"""Device selection, out-of-memory detection and freeing memory, as upstream chooses devices."""

from __future__ import annotations

import gc

import torch

from .errors import ModelUnavailable

#: How the allocators of each backend word running out of memory.
_OOM_MARKERS = ("out of memory", "can't allocate memory", "not enough memory",
                "failed to allocate")


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


def is_out_of_memory(exc: BaseException) -> bool:
    """True for CUDA's OutOfMemoryError and the RuntimeErrors MPS and the CPU raise."""
    if isinstance(exc, torch.cuda.OutOfMemoryError | MemoryError):
        return True
    return isinstance(exc, RuntimeError) and any(marker in str(exc).lower()
                                                 for marker in _OOM_MARKERS)


def free_device_memory(device: str) -> None:
    """Collect dropped tensors first, then give the allocator's cached blocks back."""
    gc.collect()
    if device.startswith("cuda") and torch.cuda.is_available():
        torch.cuda.empty_cache()
    elif device == "mps" and torch.backends.mps.is_available():
        torch.mps.empty_cache()
