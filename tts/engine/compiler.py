"""TTS_COMPILE: ``torch.compile`` of the transformer's layers, done once when a model loads so
that no request pays for the compilation.

Only the repeated layers are compiled, not the transformer's whole forward pass. Upstream's
forward keeps a per-thread text-embedding cache (Python state that dynamo cannot trace without
breaking the graph) and takes another branch on the first step of every generation than on
the later ones; compiled whole, it took minutes and compiled again for every new length. The
layers run the same code with their own weights, so one graph with symbolic shapes
(``dynamic=True``) serves every layer of the model and every length of request. DiT's layers are
``DiTBlock``s; UNetT runs its layer loop inside its own forward, so there the attention and
feed-forward modules of each layer are compiled.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import torch

from .errors import ModelLoadError

logger = logging.getLogger(__name__)

#: Whole blocks where the architecture has them (more fusion), else their heavy parts.
BLOCK_TYPES = ("DiTBlock", "MMDiTBlock")
PART_TYPES = ("Attention", "FeedForward")
#: A length for the compile-time call that dynamo will not specialise (0 and 1 it does).
PRIME_FRAMES = 128
PRIME_TEXT = 32

_lock = threading.Lock()  # dynamo compiles one model at a time


def compile_units(transformer: torch.nn.Module) -> list[torch.nn.Module]:
    """The modules compiled in a transformer: its blocks, else its attention and feed-forward
    modules."""
    modules = list(transformer.modules())
    blocks = [m for m in modules if type(m).__name__ in BLOCK_TYPES]
    return blocks or [m for m in modules if type(m).__name__ in PART_TYPES]


def compile_transformer(transformer: torch.nn.Module, *, model_id: str = "") -> float:
    """Compile ``transformer``'s layers in place and run it once on made-up input, so that the
    compilation happens here, at load. Returns the seconds it took. Raises ModelLoadError
    when torch.compile cannot work here (on a CPU it needs a C++ compiler)."""
    units = compile_units(transformer)
    if not units:
        raise ModelLoadError(f"{model_id}: TTS_COMPILE=1 found no layers to compile in "
                             f"{type(transformer).__name__}; set TTS_COMPILE=0.")
    started = time.perf_counter()
    with _lock:
        for unit in units:
            unit.compile(dynamic=True)
        try:
            prime(transformer)
        except Exception as exc:  # dynamo/inductor raise many types; all mean "cannot"
            raise ModelLoadError(
                f"{model_id}: TTS_COMPILE=1 but torch.compile failed on this machine "
                f"({root_cause(exc)}). On a CPU it needs a C++ compiler (g++) and the Python "
                "headers; or set TTS_COMPILE=0.") from exc
    seconds = time.perf_counter() - started
    kinds = sorted({type(unit).__name__ for unit in units})
    logger.info("%s: compiled %d layers (%s) in %.1f s", model_id or "model", len(units),
                ", ".join(kinds), seconds)
    return seconds


def prime(transformer: Any) -> None:
    """One forward pass shaped as upstream's sampler calls it (in eval mode, conditional and
    unconditional packed into one batch), on zeros, then its text cache cleared."""
    transformer.eval()  # as CFM.sample does: dropout off (a training-mode graph is another)
    parameter = next(transformer.parameters())
    mel_dim = transformer.proj_out.out_features
    x = torch.zeros(1, PRIME_FRAMES, mel_dim, device=parameter.device, dtype=torch.float32)
    if parameter.dtype == torch.float16:  # upstream's float16 weights on CUDA
        x = x.half()
    text = torch.zeros(1, PRIME_TEXT, dtype=torch.long, device=parameter.device)
    time_step = torch.tensor(0.5, device=parameter.device, dtype=x.dtype)
    with torch.inference_mode():
        try:
            transformer(x=x, cond=x, text=text, time=time_step, mask=None,
                        drop_audio_cond=False, drop_text=False, cfg_infer=True, cache=True)
        finally:
            transformer.clear_cache()


def root_cause(exc: BaseException, limit: int = 300) -> str:
    """The innermost cause's type and first non-empty line (dynamo wraps what failed: its
    BackendCompilerFailed keeps the backend's error as ``inner_exception``)."""
    while True:
        inner = getattr(exc, "inner_exception", None) or exc.__cause__
        if not isinstance(inner, BaseException):
            break
        exc = inner
    line = next((text.strip() for text in str(exc).splitlines() if text.strip()), "")
    return f"{type(exc).__name__}: {line[:limit]}" if line else type(exc).__name__
