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

TTS_COMPILE is ``auto`` (the default), ``1`` or ``0``; ``plan_compile`` says what it means for
one model, and why (health and the start-up log carry the reason). The compiled code persists
in a folder per configuration (tts.engine.compile_cache), so only a configuration's first
start pays for the compilation.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import torch

from . import precision as precision_module
from .compile_cache import STALE, WARM, CacheKey, CompileCache
from .config import normalise_compile
from .errors import ModelLoadError

logger = logging.getLogger(__name__)

#: Whole blocks where the architecture has them (more fusion), else their heavy parts.
BLOCK_TYPES = ("DiTBlock", "MMDiTBlock")
PART_TYPES = ("Attention", "FeedForward")
#: A length for the compile-time call that dynamo will not specialise (0 and 1 it does).
PRIME_FRAMES = 128
PRIME_TEXT = 32

_lock = threading.Lock()  # dynamo compiles one model at a time

CHOICES = ("auto", "1", "0")
#: Where compiling was measured to gain on a CPU: (architecture, precision, a CPU flag) and the
#: measurement (docs/performance.md#compile). Elsewhere auto leaves models uncompiled: UNetT
#: (E2-TTS) gained nothing on Xeon-AMX; on an AMD EPYC with avx512_bf16 but no AMX two runs
#: disagreed (compiled DiT layers 0.73x, then 1.17x per step in bfloat16): no gain shown.
CPU_GAINS = {("DiT", "bfloat16", "amx_bf16"):
             "measured 1.42x end to end at quality fast on F5TTS_v1_Base (bfloat16, AMX)"}
#: auto compiles models of at least this many parameters: a real-size F5-TTS has 337 M; the
#: tiny test and demo models (well under 1 M) gain nothing a request would notice and would
#: pay seconds of compiling at every start of a test or a demo.
REAL_SIZE_PARAMETERS = 50_000_000
#: Precisions whose layers compile (int8's quantised linear layers are opaque to Inductor).
COMPILABLE_PRECISIONS = ("float32", "bfloat16", "float16")


@dataclass(frozen=True)
class CompilePlan:
    """What TTS_COMPILE means for one model: whether to compile, and why."""

    compile: bool
    reason: str
    #: TTS_COMPILE=1: a failure to compile is the model's load error. Under auto a failure
    #: leaves the model uncompiled, with a warning.
    required: bool = False


def plan_compile(setting: str, *, device: str, architecture: str, parameters: int,
                 precision: str, cache_state: str, flags: frozenset[str] | None = None
                 ) -> CompilePlan:
    """``auto`` compiles a model when all of these hold, else says which one failed:
    it runs on a CPU (the only place it was measured), it is real-size
    (``REAL_SIZE_PARAMETERS``), its architecture and precision were measured to gain on a CPU
    with one of this CPU's flags (``CPU_GAINS``; ``flags`` default to this CPU's, read by
    tts.engine.precision.cpu_flags), and its compile cache is warm (a cold cache would make
    this start wait a minute or more; ``manage.py compile_cache`` or one start with
    TTS_COMPILE=1 fills it) or stale (filled before, for another torch, Python or CPU, or
    damaged: rebuilt once)."""
    setting = normalise_compile(setting)
    if setting == "0":
        return CompilePlan(False, "TTS_COMPILE=0")
    if setting == "1":
        if precision not in COMPILABLE_PRECISIONS:
            return CompilePlan(False, f"TTS_COMPILE=1, but {precision} layers are not "
                                      "compiled (quantised layers are opaque to Inductor)")
        return CompilePlan(True, f"TTS_COMPILE=1 (cache {cache_state})", required=True)
    if device != "cpu":
        return CompilePlan(False, f"auto: measured on CPUs only; set TTS_COMPILE=1 to compile "
                                  f"on {device}")
    if parameters < REAL_SIZE_PARAMETERS:
        return CompilePlan(False, f"auto: a small model ({parameters / 1e6:.1f} M parameters) "
                                  "gains less than compiling costs")
    if flags is None:
        flags = precision_module.cpu_flags()  # read at call time: tests override it
    gain = next((why for (arch, prec, flag), why in CPU_GAINS.items()
                 if arch == architecture and prec == precision and flag in flags), None)
    if gain is None:
        measured = [f"{arch} in {prec} with {flag}" for arch, prec, flag in CPU_GAINS]
        return CompilePlan(False, f"auto: compiling {architecture} in {precision} was not "
                                  "measured to gain on this CPU (measured to gain: "
                                  f"{'; '.join(measured)}); TTS_COMPILE=1 compiles anyway")
    if cache_state == STALE:  # compiled here before: the cost was accepted once already
        return CompilePlan(True, f"auto: {gain}; the compile cache is stale (another torch, "
                                 "Python or CPU, or damaged), so it is rebuilt once (a minute "
                                 "or more)")
    if cache_state != WARM:
        return CompilePlan(False, f"auto: {gain}, but the compile cache is {cache_state} and "
                                  "compiling from nothing would hold this start up for a "
                                  "minute or more; run `manage.py compile_cache` once (or "
                                  "start once with TTS_COMPILE=1) and later starts compile "
                                  "from the cache")
    return CompilePlan(True, f"auto: {gain}; the compile cache is warm")


@dataclass
class CompileReport:
    """What happened to one model, for health: the plan, and how it went."""

    setting: str
    compiled: bool
    reason: str
    cache: str  # warm | cold | stale | rebuilt | none (the state found at load)
    seconds: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"setting": self.setting, "compiled": self.compiled, "reason": self.reason,
                "cache": self.cache, "seconds": None if self.seconds is None
                else round(self.seconds, 1)}


def compile_units(transformer: torch.nn.Module) -> list[torch.nn.Module]:
    """The modules compiled in a transformer: its blocks, else its attention and feed-forward
    modules."""
    modules = list(transformer.modules())
    blocks = [m for m in modules if type(m).__name__ in BLOCK_TYPES]
    return blocks or [m for m in modules if type(m).__name__ in PART_TYPES]


def compile_transformer(transformer: torch.nn.Module, *, model_id: str = "",
                        cache: CompileCache | None = None, key: CacheKey | None = None
                        ) -> float:
    """Compile ``transformer``'s layers in place and run it once on made-up input, so that the
    compilation happens here, at load, with torch's caches in ``cache``'s folder for ``key``
    (when given). A warm cache that fails to compile is deleted with a warning and the compile
    runs again from nothing. Returns the seconds it took. Raises ModelLoadError when
    torch.compile cannot work here (on a CPU it needs a C++ compiler)."""
    units = compile_units(transformer)
    if not units:
        raise ModelLoadError(f"{model_id}: TTS_COMPILE=1 found no layers to compile in "
                             f"{type(transformer).__name__}; set TTS_COMPILE=0.")
    started = time.perf_counter()
    with _lock:
        state = cache.prepare(key, model_id=model_id) if cache and key else None
        try:
            _compile_and_prime(transformer, units, cache, key)
        except Exception as exc:  # dynamo/inductor raise many types; all mean "cannot"
            if state != WARM:
                raise _cannot(model_id, exc) from exc
            cache.discard(key, f"compiling from it failed: {root_cause(exc)}",
                          model_id=model_id)
            try:
                _compile_and_prime(transformer, units, cache, key)
            except Exception as again:
                raise _cannot(model_id, again) from again
        seconds = time.perf_counter() - started
        if cache and key:
            cache.seal(key, seconds=seconds)
    kinds = sorted({type(unit).__name__ for unit in units})
    logger.info("%s: compiled %d layers (%s) in %.1f s%s", model_id or "model", len(units),
                ", ".join(kinds), seconds,
                f" (cache {cache.folder(key)}, found {state})" if cache and key else "")
    return seconds


def _compile_and_prime(transformer: torch.nn.Module, units: list[torch.nn.Module],
                       cache: CompileCache | None, key: CacheKey | None) -> None:
    for unit in units:
        unit.compile(dynamic=True)
    if cache is None or key is None:
        prime(transformer)
        return
    with cache.active(key):
        # Inductor keeps compiled kernels in memory too: forget them, so that everything this
        # compile needs is read from, or written to, the key's folder (a folder complete in
        # itself, whatever this process compiled before).
        from torch._inductor.utils import clear_inductor_caches

        clear_inductor_caches()
        prime(transformer)


def _cannot(model_id: str, exc: BaseException) -> ModelLoadError:
    return ModelLoadError(
        f"{model_id}: TTS_COMPILE=1 but torch.compile failed on this machine "
        f"({root_cause(exc)}). On a CPU it needs a C++ compiler (g++) and the Python "
        "headers; or set TTS_COMPILE=0.")


def uncompile(transformer: torch.nn.Module) -> None:
    """Back to eager layers (after a compile that failed under auto)."""
    for unit in compile_units(transformer):
        unit._compiled_call_impl = None


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
