"""Which device the models run on, in which precision, and what the torch build can do there.

The facts about the machine (torch build, usable GPUs, driver) are gathered once by
``collect_facts``; everything that decides or reports works on such facts, so the GPU rules can
be tested on a machine without one by feeding it "CUDA build, no usable GPU".
"""

from __future__ import annotations

import ast
import contextlib
import functools
import gc
import os
import re
import resource
import shutil
import subprocess
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, distribution
from typing import Any

import torch

from .errors import ModelUnavailable

#: PyTorch builds offered by scripts/install.sh (TORCH_VARIANT), newest CUDA first:
#: (variant, CUDA version, the oldest NVIDIA driver series it runs on).
CUDA_VARIANTS = (("cu130", (13, 0), "580"), ("cu126", (12, 6), "525"))
MB = 2**20
#: How the allocators of each backend word running out of memory.
_OOM_MARKERS = ("out of memory", "can't allocate memory", "not enough memory",
                "failed to allocate")


@dataclass(frozen=True)
class GpuInfo:
    index: int
    name: str
    memory_total_mb: int
    capability: tuple[int, int]


@dataclass(frozen=True)
class DeviceFacts:
    """What this process's torch can use. Built by ``collect_facts``; tests build their own."""

    torch_version: str
    #: CUDA version the torch build was compiled for (``torch.version.cuda``); None: CPU build.
    cuda: str | None
    gpus: tuple[GpuInfo, ...] = ()
    #: Why a CUDA build sees no GPU (torch's own message), when it says.
    cuda_problem: str | None = None
    #: From nvidia-smi when present: driver version and the newest CUDA the driver supports.
    driver: str | None = None
    driver_cuda: str | None = None
    cudnn: int | None = None
    mps: bool = False
    torchaudio_version: str | None = None
    cpu_name: str = "cpu"
    memory_total_mb: int | None = None
    #: GPU architectures the build has kernels for (``torch.cuda.get_arch_list()``).
    arch_list: tuple[str, ...] = ()

    @property
    def gpu_usable(self) -> bool:
        return bool(self.gpus)


@dataclass(frozen=True)
class DevicePlan:
    """Where models go for a TTS_DEVICE value: a device, or an error that says what to do,
    and warnings an operator must see (health, start-up log, system checks)."""

    requested: str
    device: str | None
    error: str | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)


# --- facts ------------------------------------------------------------------------------------
@functools.cache
def collect_facts() -> DeviceFacts:
    """The real facts of this process, once (they do not change while it runs).

    Initialises CUDA only when a GPU is usable (to read its properties); call it in the
    process that will run the models, never in a server's master before it forks workers.
    """
    cuda = torch.version.cuda
    gpus: tuple[GpuInfo, ...] = ()
    arch_list: tuple[str, ...] = ()
    problem = driver = driver_cuda = None
    if cuda and torch.cuda.is_available():
        gpus = tuple(_gpu_info(index) for index in range(torch.cuda.device_count()))
        arch_list = tuple(torch.cuda.get_arch_list())
    elif cuda:
        problem = _cuda_init_error()
        driver, driver_cuda = _nvidia_smi()
    cudnn = None
    with contextlib.suppress(Exception):
        cudnn = torch.backends.cudnn.version() if cuda else None
    return DeviceFacts(
        torch_version=torch.__version__, cuda=cuda, gpus=gpus, cuda_problem=problem,
        driver=driver, driver_cuda=driver_cuda, cudnn=cudnn,
        mps=bool(torch.backends.mps.is_available()),
        torchaudio_version=installed_build("torchaudio"), cpu_name=_cpu_name(),
        memory_total_mb=_ram_mb(), arch_list=arch_list)


def _gpu_info(index: int) -> GpuInfo:
    props = torch.cuda.get_device_properties(index)
    return GpuInfo(index=index, name=props.name, memory_total_mb=props.total_memory // MB,
                   capability=(props.major, props.minor))


def _cuda_init_error() -> str | None:
    """torch's own reason why CUDA does not start (old driver, no driver, no device)."""
    try:
        torch.cuda.init()
    except Exception as exc:  # RuntimeError or AssertionError, depending on the cause
        return " ".join(str(exc).split())[:400] or type(exc).__name__
    return None


def _nvidia_smi() -> tuple[str | None, str | None]:
    """Driver version and the CUDA version it supports, as nvidia-smi's header shows them."""
    if not shutil.which("nvidia-smi"):
        return None, None
    try:
        out = subprocess.run(["nvidia-smi"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None, None
    driver = re.search(r"Driver Version:\s*([\d.]+)", out)
    cuda = re.search(r"CUDA Version:\s*([\d.]+)", out)
    return (driver.group(1) if driver else None), (cuda.group(1) if cuda else None)


def _cpu_name() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8",
                                            errors="replace") as info:
        for line in info:
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} cores)"
    return f"cpu ({os.cpu_count()} cores)"


def _ram_mb() -> int | None:
    with contextlib.suppress(ValueError, OSError, AttributeError):
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // MB
    return None


def installed_build(package: str) -> str | None:
    """A torch-family package's full build version, local tag included (``2.11.0+cu130``).

    PyPI's wheels drop the local tag from their metadata (it says ``2.11.0``) but keep it in
    the generated ``<package>/version.py``; wheels from download.pytorch.org carry it in both.
    Read from the files, so a torchaudio whose compiled extension cannot load is still read.
    """
    try:
        dist = distribution(package)
    except PackageNotFoundError:
        return None
    for file in dist.files or ():
        if str(file) == f"{package}/version.py":
            with contextlib.suppress(OSError, SyntaxError):
                tree = ast.parse(file.locate().read_text(encoding="utf-8"))
                for node in tree.body:
                    if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
                            and any(getattr(t, "id", "") == "__version__" for t in node.targets)):
                        return str(node.value.value)
    return dist.version


def build_cuda(version: str | None) -> str | None:
    """``2.11.0+cu130`` → ``13.0``; ``+cpu``, no tag or None → None."""
    match = re.search(r"\+cu(\d+)(\d)$", version or "")
    return f"{int(match.group(1))}.{match.group(2)}" if match else None


def pairing_problem(torch_cuda: str | None, torchaudio_version: str | None) -> str | None:
    """Why this torch and torchaudio cannot be used together, or None.

    torchaudio refuses to import when both builds use CUDA and their CUDA versions differ
    (major.minor). A CPU torch beside a CUDA torchaudio is fine for this project: torchaudio's
    compiled extension is then removed by scripts/install.sh, and only its pure-Python parts
    (MelSpectrogram, Resample) are used; torchaudio makes the same exception itself (its
    check runs only when torch has CUDA). A CPU torchaudio beside a CUDA torch is fine too.
    """
    audio_cuda = build_cuda(torchaudio_version)
    if not torch_cuda or not audio_cuda:
        return None
    if _major_minor(torch_cuda) == _major_minor(audio_cuda):
        return None
    return (f"torch is built for CUDA {torch_cuda} but torchaudio {torchaudio_version} for "
            f"CUDA {audio_cuda}: torchaudio will refuse to import. Install both from the same "
            "index (scripts/install.sh does, see TORCH_VARIANT in docs/installation.md).")


def gpu_supported(gpu: GpuInfo, arch_list: tuple[str, ...]) -> bool:
    """Whether the build has kernels for this GPU: machine code for its major architecture at
    or below its minor (``sm_80`` runs on 8.6), or PTX at or below it (``compute_90``). CUDA 13
    builds dropped Pascal and Volta (6.x, 7.0); CUDA 12.6 builds lack Blackwell (10.x, 12.x)."""
    if not arch_list:
        return True  # unknown: let torch try
    for arch in arch_list:
        kind, _, digits = arch.partition("_")
        if not digits.isdigit():
            continue
        major, minor = int(digits[:-1]), int(digits[-1])
        if kind == "sm" and major == gpu.capability[0] and minor <= gpu.capability[1]:
            return True
        if kind == "compute" and (major, minor) <= gpu.capability:
            return True
    return False


def _unsupported(gpu: GpuInfo, facts: DeviceFacts) -> str:
    fit = "TORCH_VARIANT=cu126" if gpu.capability < (7, 5) else "TORCH_VARIANT=cu130"
    return (f"The GPU {gpu.name} (compute capability {gpu.capability[0]}.{gpu.capability[1]}) "
            f"is not supported by this PyTorch build ({facts.torch_version}, kernels for "
            f"{' '.join(facts.arch_list)}). Reinstall with {fit} (see docs/installation.md).")


def _major_minor(version: str) -> tuple[int, int]:
    parts = [int(p) for p in re.findall(r"\d+", version)[:2]]
    return (parts + [0, 0])[0], (parts + [0, 0])[1]


# --- decisions --------------------------------------------------------------------------------
def plan_device(requested: str, facts: DeviceFacts) -> DevicePlan:
    """Where models run for TTS_DEVICE=``requested``. ``auto``: first GPU, then mps, then cpu;
    an explicit device that is not usable is an error, never a fallback."""
    requested = (requested or "auto").strip().lower()
    if requested == "auto":
        if facts.gpu_usable and gpu_supported(facts.gpus[0], facts.arch_list):
            return DevicePlan(requested, "cuda")
        if facts.gpu_usable:
            return DevicePlan(requested, "cpu", warnings=(
                _unsupported(facts.gpus[0], facts) + " Until then the models run on the CPU, "
                "tens of times slower; set TTS_DEVICE=cpu if that is what you want.",))
        if facts.mps:
            return DevicePlan(requested, "mps")
        warnings = (no_gpu_warning(facts),) if facts.cuda else ()
        return DevicePlan(requested, "cpu", warnings=warnings)
    if requested == "cuda" or re.fullmatch(r"cuda:\d+", requested):
        index = int(requested.split(":", 1)[1]) if ":" in requested else 0
        if not facts.cuda:
            return DevicePlan(requested, None, error=(
                f"TTS_DEVICE={requested} but this PyTorch ({facts.torch_version}) is a CPU-only "
                "build. Reinstall with a CUDA build (TORCH_VARIANT=cu130 or cu126, see the "
                "docs/installation.md), or set TTS_DEVICE=auto or cpu."))
        if not facts.gpu_usable:
            return DevicePlan(requested, None, error=(
                f"TTS_DEVICE={requested} but no GPU is usable. {_diagnosis(facts)} "
                "Or set TTS_DEVICE=cpu to run on the CPU."))
        if index >= len(facts.gpus):
            return DevicePlan(requested, None, error=(
                f"TTS_DEVICE={requested} but only {len(facts.gpus)} GPU(s) are visible "
                f"(cuda:0 to cuda:{len(facts.gpus) - 1}); check CUDA_VISIBLE_DEVICES."))
        if not gpu_supported(facts.gpus[index], facts.arch_list):
            return DevicePlan(requested, None, error=_unsupported(facts.gpus[index], facts))
        return DevicePlan(requested, requested)
    if requested == "mps":
        if facts.mps:
            return DevicePlan(requested, "mps")
        return DevicePlan(requested, None,
                          error="TTS_DEVICE=mps but MPS is not available; set TTS_DEVICE=auto.")
    if requested == "cpu":
        return DevicePlan(requested, "cpu")
    return DevicePlan(requested, None, error=(
        f"TTS_DEVICE={requested!r} is not one of auto, cpu, cuda, cuda:N, mps."))


def no_gpu_warning(facts: DeviceFacts) -> str:
    return (f"This PyTorch ({facts.torch_version}) is built for CUDA {facts.cuda} but no GPU is "
            f"usable, so the models run on the CPU, tens of times slower. {_diagnosis(facts)} "
            "If the CPU is what you want, set TTS_DEVICE=cpu (and TORCH_VARIANT=cpu saves "
            "about 3.8 GB of CUDA libraries).")


def _diagnosis(facts: DeviceFacts) -> str:
    """What torch and the driver say, and which build fits the driver."""
    said = f"torch says: {facts.cuda_problem} " if facts.cuda_problem else ""
    if not facts.driver_cuda:
        return (f"{said}No NVIDIA driver answered (nvidia-smi). On a GPU machine install the "
                "NVIDIA driver, then check that `nvidia-smi` lists the GPU.")
    supported = _major_minor(facts.driver_cuda)
    # CUDA's minor-version compatibility: a driver for CUDA 12.x runs any 12.y build.
    fits = [variant for variant, cuda, _ in CUDA_VARIANTS if cuda[0] <= supported[0]]
    build = _major_minor(facts.cuda or "0")
    head = (f"{said}The NVIDIA driver {facts.driver} supports CUDA up to {facts.driver_cuda}; "
            f"this build needs CUDA {facts.cuda}.")
    if build[0] > supported[0] and fits:
        return (f"{head} Reinstall with TORCH_VARIANT={fits[0]} (make clean, then "
                f"TORCH_VARIANT={fits[0]} make setup), or update the driver.")
    if build[0] > supported[0]:
        oldest = CUDA_VARIANTS[-1]
        return (f"{head} No PyTorch build here runs on that driver: update it to the "
                f"{oldest[2]} series or newer, or use TORCH_VARIANT=cpu.")
    return (f"{head} The driver is recent enough: check CUDA_VISIBLE_DEVICES and that "
            "`nvidia-smi` lists the GPU.")


def choose_precision(device: str, gpu: GpuInfo | None) -> str:
    """The dtype the models run in on ``device``: upstream's ``load_checkpoint`` rule,
    float16 on CUDA GPUs of compute capability 7 or more (not ZLUDA), float32 elsewhere.
    The one place this project decides it (the vocoder always runs in float32)."""
    if (device.startswith("cuda") and gpu is not None and gpu.capability[0] >= 7
            and not gpu.name.endswith("[ZLUDA]")):
        return "float16"
    return "float32"


def gpu_for(device: str, facts: DeviceFacts) -> GpuInfo | None:
    if not device.startswith("cuda") or not facts.gpus:
        return None
    index = int(device.split(":", 1)[1]) if ":" in device else 0
    return facts.gpus[index] if index < len(facts.gpus) else None


def model_precision(device: str, facts: DeviceFacts | None = None) -> str:
    facts = facts or collect_facts()
    return choose_precision(device, gpu_for(device, facts))


def model_dtype(device: str) -> torch.dtype:
    return getattr(torch, model_precision(device))


def module_precision(module: Any) -> str | None:
    """The dtype a loaded model actually holds its weights in (``float16``), or None."""
    for param in module.parameters():
        if param.is_floating_point():
            return str(param.dtype).removeprefix("torch.")
    return None


def module_megabytes(module: Any) -> float:
    """Memory of a model's parameters and buffers (and of quantised layers' packed weights,
    which are neither)."""
    tensors = [*module.parameters(), *module.buffers()]
    for part in module.modules():
        packed = getattr(part, "_packed_params", None)
        if packed is not None and hasattr(packed, "_weight_bias"):
            tensors += [t for t in packed._weight_bias() if t is not None]
    return round(sum(t.numel() * t.element_size() for t in tensors) / MB, 1)


def resolve_device(requested: str = "auto") -> str:
    """The device for TTS_DEVICE=``requested``; ModelUnavailable if it is not usable."""
    plan = plan_device(requested, collect_facts())
    if plan.device is None:
        raise ModelUnavailable(plan.error or f"TTS_DEVICE={requested} is not usable.")
    return plan.device


# --- reports ----------------------------------------------------------------------------------
def memory_usage(device: str) -> tuple[float | None, float | None]:
    """(used, peak) megabytes: held by torch on a GPU, this process's resident memory on a
    CPU."""
    if device.startswith("cuda") and torch.cuda.is_available():
        return (round(torch.cuda.memory_reserved(device) / MB, 1),
                round(torch.cuda.max_memory_allocated(device) / MB, 1))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    used = None
    with contextlib.suppress(OSError, ValueError, IndexError), \
            open("/proc/self/statm", encoding="ascii") as statm:
        used = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MB
    if used is None:
        return None, round(peak, 1)
    return round(used, 1), round(max(peak, used), 1)


def device_info(device: str, facts: DeviceFacts) -> dict[str, Any]:
    """Name, memory and precision of one device (never loads anything)."""
    gpu = gpu_for(device, facts)
    used, peak = memory_usage(device)
    return {
        "device": device,
        "name": gpu.name if gpu else (facts.cpu_name if device == "cpu" else device),
        "memory_total_mb": gpu.memory_total_mb if gpu else (
            facts.memory_total_mb if device == "cpu" else None),
        "memory_used_mb": used,
        "memory_peak_mb": peak,
        "compute_capability": f"{gpu.capability[0]}.{gpu.capability[1]}" if gpu else None,
        "precision": choose_precision(device, gpu),
    }


def build_info(facts: DeviceFacts) -> dict[str, Any]:
    """The torch build and what it can use here."""
    return {
        "torch": facts.torch_version,
        "cuda": facts.cuda,
        "cudnn": facts.cudnn,
        "torchaudio": facts.torchaudio_version,
        "gpu_usable": facts.gpu_usable,
        "gpus": [{"index": g.index, "name": g.name, "memory_total_mb": g.memory_total_mb,
                  "compute_capability": f"{g.capability[0]}.{g.capability[1]}",
                  "supported": gpu_supported(g, facts.arch_list)}
                 for g in facts.gpus],
        "driver": facts.driver,
        "driver_cuda": facts.driver_cuda,
    }


def summary(plan: DevicePlan, facts: DeviceFacts, precision: str | None = None) -> str:
    """One log line: where the models run, on what, in which precision (``precision``: what
    TTS_PRECISION resolved to; else this module's default for the device)."""
    build = f"torch {facts.torch_version} (CUDA {facts.cuda or 'none'})"
    if plan.device is None:
        return f"models cannot run: {plan.error} [{build}]"
    info = device_info(plan.device, facts)
    memory = f", {info['memory_total_mb'] / 1024:.0f} GiB" if info["memory_total_mb"] else ""
    return (f"models run on {plan.device} ({info['name']}{memory}) in "
            f"{precision or info['precision']}, "
            f"{build}, TTS_DEVICE={plan.requested}")


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
