"""Numeric precision of the transformer: which one ``auto`` picks on this machine, and how a
backend applies it.

* float16 on a CUDA GPU (compute capability 7 or more) is upstream's own choice: the whole
  CFM in float16 weights, as ``load_checkpoint`` does it.
* bfloat16 (anywhere) and float16 on a CPU are applied with autocast around the transformer's
  forward pass only. The ODE time grid, the noise, the classifier-free-guidance sum and the
  vocoder stay float32: casting the model itself to bfloat16 collapses the time grid on a CPU
  ("t must be strictly increasing"), and autocast is per thread, while upstream runs the
  model in a worker thread of its own, so the context is entered inside the forward call.
  The transformer's linear layers store their weights in the autocast dtype, which autocast
  would cast them to at every step anyway (same results, less memory traffic).
* int8 (CPU only, never chosen by ``auto`` unless its quality was measured to hold) is
  dynamic quantisation of the transformer's linear layers: int8 weights (one scale per output
  channel), activations quantised at every call, int8 matrix products (VNNI/AMX-INT8 where the
  CPU has them, through PyTorch's x86/fbgemm kernels); everything else stays float32.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .errors import ModelUnavailable

CHOICES = ("auto", "float32", "bfloat16", "float16", "int8")
#: CPU flags (``/proc/cpuinfo``) that make bfloat16 matrix products faster than float32.
#: Without them oneDNN emulates bfloat16 on AVX-512 and it is slower (docs/performance.md).
CPU_BF16_FLAGS = ("amx_bf16", "avx512_bf16")
CPU_FP16_FLAGS = ("amx_fp16", "avx512_fp16")
#: CPU flags with int8 dot products (what makes int8 matrix products fast).
CPU_INT8_FLAGS = ("amx_int8", "avx512_vnni", "avx_vnni")


@dataclass(frozen=True)
class Precision:
    name: str  # float32 | bfloat16 | float16
    reason: str  # why it was chosen, for health

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of the transformer's arithmetic (int8: its linear layers' products)."""
        return getattr(torch, self.name)

    @property
    def quantised(self) -> bool:
        return self.name == "int8"


@functools.cache
def cpu_flags() -> frozenset[str]:
    """This CPU's flags (``/proc/cpuinfo``). The one place they are read: everything that
    depends on the CPU (``auto`` precision, the compile cache's key) asks here, and tests
    override it."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def cpu_feature(candidates: tuple[str, ...]) -> str | None:
    """The first of ``candidates`` this CPU has, or None."""
    flags = cpu_flags()
    return next((flag for flag in candidates if flag in flags), None)


def resolve_precision(requested: str, device: str) -> Precision:
    """``auto``: float16 on CUDA GPUs that run it well (upstream's rule), bfloat16 on CPUs
    with native bfloat16 arithmetic, float32 otherwise. An explicit choice must be runnable."""
    requested = (requested or "auto").strip().lower()
    if requested not in CHOICES:
        raise ModelUnavailable(f"TTS_PRECISION={requested!r} is not one of {', '.join(CHOICES)}.")
    on_cuda = device.startswith("cuda")
    if requested == "auto":
        if on_cuda and torch.cuda.get_device_properties(device).major >= 7:
            return Precision("float16", "auto: CUDA compute capability 7 or more (as upstream)")
        if device == "cpu":
            flag = cpu_feature(CPU_BF16_FLAGS)
            if flag:
                return Precision("bfloat16", f"auto: the CPU has {flag}")
            return Precision("float32", "auto: the CPU has no native bfloat16 "
                                        f"({' or '.join(CPU_BF16_FLAGS)})")
        return Precision("float32", f"auto: {device}")
    if requested == "bfloat16" and on_cuda and not torch.cuda.is_bf16_supported():
        raise ModelUnavailable(f"TTS_PRECISION=bfloat16 but {device} does not support bfloat16; "
                               "set TTS_PRECISION=auto or float16.")
    if requested == "int8":
        check_int8(device)
        flag = cpu_feature(CPU_INT8_FLAGS)
        return Precision("int8", "TTS_PRECISION" + (f" (the CPU has {flag})" if flag else
                                                    " (the CPU has no int8 dot products: slow)"))
    if requested == "float16" and device == "mps":
        raise ModelUnavailable("TTS_PRECISION=float16 is not supported on mps here; set "
                               "TTS_PRECISION=auto or float32.")
    return Precision(requested, "TTS_PRECISION")


def check_int8(device: str) -> None:
    """ModelUnavailable unless dynamic int8 quantisation can run here."""
    if device != "cpu":
        raise ModelUnavailable(f"TTS_PRECISION=int8 runs on CPUs only, not {device}; set "
                               "TTS_PRECISION=auto.")
    engines = set(torch.backends.quantized.supported_engines)
    if not engines & {"x86", "fbgemm", "onednn", "qnnpack"} or _quantize_dynamic() is None:
        raise ModelUnavailable("TTS_PRECISION=int8 but this torch build has no dynamic "
                               "quantisation (torch.ao.quantization); set TTS_PRECISION=auto.")


def _quantize_dynamic() -> Callable[..., Any] | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.ao.quantization warns that it will move
            from torch.ao.quantization import quantize_dynamic
    except ImportError:
        return None
    return quantize_dynamic


def quantise_linear_layers(module: torch.nn.Module) -> int:
    """Replace ``module``'s ``nn.Linear`` layers, in place, by dynamically quantised int8 ones
    (weights int8 with one scale per output channel; activations quantised per call).
    Returns the number of layers replaced."""
    quantize_dynamic = _quantize_dynamic()
    if quantize_dynamic is None:
        raise ModelUnavailable("TTS_PRECISION=int8 needs torch.ao.quantization, which this "
                               "torch build lacks; set TTS_PRECISION=auto.")
    from torch.ao.quantization import per_channel_dynamic_qconfig

    count = sum(isinstance(m, torch.nn.Linear) for m in module.modules())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecation notices of torch.ao and quint8 tensors
        quantize_dynamic(module, {torch.nn.Linear: per_channel_dynamic_qconfig},
                         dtype=torch.qint8, inplace=True)
    return count


def apply_precision(module: torch.nn.Module, precision: Precision, device: str) -> None:
    """Make the transformer ``module`` compute in ``precision`` (its weights already in
    ``weight_dtype``): int8 quantises its linear layers, bfloat16 and CPU float16 wrap its
    forward in autocast."""
    if precision.quantised:
        quantise_linear_layers(module)
        return
    autocast_forward(module, precision, device)


def weight_dtype(precision: Precision, device: str) -> torch.dtype:
    """Weights are float16 only for float16 on CUDA (upstream's way); else float32."""
    if precision.name == "float16" and device.startswith("cuda"):
        return torch.float16
    return torch.float32


def uses_autocast(precision: Precision, device: str) -> bool:
    return (precision.name not in ("float32", "int8")
            and weight_dtype(precision, device) == torch.float32)


def autocast_forward(module: torch.nn.Module, precision: Precision, device: str) -> None:
    """Run ``module``'s forward under autocast in whichever thread calls it, and hand
    float32 back to the caller's maths. Forward hooks still run (``__call__`` wraps this).
    Its linear layers keep their weights in the autocast dtype (see ``lower_linear_layers``)."""
    if not uses_autocast(precision, device):
        return
    lower_linear_layers(module, precision.dtype)
    forward: Callable[..., Any] = module.forward
    device_type = device.split(":", 1)[0]
    dtype = precision.dtype

    @functools.wraps(forward)
    def forward_autocast(*args: Any, **kwargs: Any) -> Any:
        with torch.autocast(device_type, dtype=dtype):
            output = forward(*args, **kwargs)
        return output.float() if isinstance(output, torch.Tensor) else output

    module.forward = forward_autocast


def lower_linear_layers(module: torch.nn.Module, dtype: torch.dtype) -> int:
    """Store the weights and biases of ``module``'s ``nn.Linear`` layers in ``dtype``. Autocast
    casts them to it on every call anyway, so the results are the same bit for bit; kept
    there, each denoising step skips re-reading and casting every weight (about 2 GB of
    memory traffic per step for F5TTS_v1_Base), and the weights take half the memory. The
    layers must then only run under autocast, which ``autocast_forward`` ensures.

    The layer that holds the module's first parameter stays float32: upstream's sampler takes
    the dtype of the noise, the reference mel and the ODE time grid from the model's first
    parameter, and a bfloat16 grid collapses (EPSS at nfe 16: "t must be strictly
    increasing"). Returns the number of layers changed."""
    first = next(module.parameters(), None)
    layers = [m for m in module.modules() if isinstance(m, torch.nn.Linear)
              and not any(p is first for p in m.parameters(recurse=False))]
    for layer in layers:
        layer.to(dtype)
    return len(layers)


def describe(device: str, precision: Precision) -> dict[str, str]:
    """What health and the model list report about the numeric setup."""
    how = ("int8 dynamic quantisation of the transformer's linear layers (int8 weights per "
           "output channel, activations quantised per call); the rest float32"
           if precision.quantised
           else "float16 weights" if weight_dtype(precision, device) == torch.float16
           else f"{precision.name} autocast on the transformer (its linear layers' weights "
                f"stored in {precision.name})" if uses_autocast(precision, device)
           else "float32")
    return {"device": device, "precision": precision.name, "precision_reason": precision.reason,
            "precision_applied_as": how}
