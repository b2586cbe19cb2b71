"""F5-TTS (DiT) and E2-TTS (UNetT) behind the backend interface, through upstream's own
``load_model``, ``load_vocoder`` and ``infer_batch_process``."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..compile_cache import COLD, WARM, CompileCache, cache_key
from ..compiler import CompileReport, compile_transformer, plan_compile, root_cause, uncompile
from ..devices import is_out_of_memory, module_megabytes, module_precision
from ..errors import (
    GenerationCancelled,
    GenerationFailed,
    ModelLoadError,
    ModelUnavailable,
    OutOfMemory,
)
from ..precision import Precision, apply_precision, weight_dtype
from ..reference import PreparedReference
from ..registry import SAMPLE_RATE, ModelSpec, backbone_class
from .base import ChunkAudio, ChunkParams, Footprint, ModelFiles

logger = logging.getLogger(__name__)


def _upstream_print(*args: Any, **kwargs: Any) -> None:
    text = " ".join(str(arg) for arg in args).strip()
    if text:
        logger.debug("f5-tts: %s", text)


def quiet_upstream() -> None:
    """Upstream prints (vocab, chunks, paths) to stdout. A module-level ``print`` in its
    module shadows the builtin for that module alone: no process-wide stdout swap."""
    from f5_tts.infer import utils_infer

    utils_infer.print = _upstream_print


def load_vocoder(folder: Path, device: str) -> Any:
    """A local Vocos folder (config.yaml + pytorch_model.bin) through upstream's loader."""
    from f5_tts.infer.utils_infer import load_vocoder as upstream_load_vocoder

    quiet_upstream()
    check_vocos_config(folder / "config.yaml")
    try:
        return upstream_load_vocoder("vocos", is_local=True, local_path=str(folder), device=device)
    except Exception as exc:
        if is_out_of_memory(exc):
            raise OutOfMemory(f"Out of memory on {device} while loading the vocoder; set "
                              "TTS_MAX_LOADED_MODELS lower.") from exc
        raise ModelLoadError(f"The Vocos vocoder in {folder} does not load: {short(exc)}. "
                             "Check TTS_VOCODER_PATH.") from exc


def check_vocos_config(path: Path) -> None:
    """Vocos builds whatever ``class_path`` its config names: allow only Vocos' own classes."""
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
        paths = [config[part]["class_path"] for part in ("feature_extractor", "backbone", "head")]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise ModelLoadError(f"{path} is not a Vocos config.yaml ({short(exc)}); check "
                             "TTS_VOCODER_PATH.") from exc
    unsafe = [name for name in paths if not str(name).startswith("vocos.")]
    if unsafe:
        raise ModelLoadError(f"{path} names classes outside the vocos package ({unsafe}); "
                             "refusing to load it.")


class FlowMatchingBackend:
    """A CFM model (upstream's ``f5_tts.model.CFM``) around the spec's backbone, plus Vocos."""

    def __init__(self, spec: ModelSpec, device: str, precision: Precision | None = None, *,
                 compile_layers: bool | str = "0", compile_cache: CompileCache | None = None):
        self.spec = spec
        self.device = device
        self.precision = precision or Precision("float32", "default")
        self.compile_setting = compile_layers  # TTS_COMPILE: auto | 1 | 0
        self.compile_cache = compile_cache  # TTS_COMPILE_CACHE_DIR (None: torch's own)
        self.compile_seconds: float | None = None
        self.compile_report: CompileReport | None = None
        self._model: Any = None
        self._vocoder: Any = None

    @property
    def is_loaded(self) -> bool:
        return self._model is not None

    def load(self, files: ModelFiles, vocoder: Any) -> None:
        import torch
        from f5_tts.infer.utils_infer import load_model

        quiet_upstream()
        spec = self.spec
        dtype = weight_dtype(self.precision, self.device)
        # Upstream's loader picks float16 itself on capable GPUs; any other precision loads
        # float32 weights on the CPU first (float16 weights cast back would have lost bits).
        load_device = self.device if dtype == torch.float16 else "cpu"
        try:
            model = load_model(backbone_class(spec.architecture), spec.config,
                               str(files.checkpoint), mel_spec_type="vocos",
                               vocab_file=str(files.vocab or ""), device=load_device)
            model = model.to(device=self.device, dtype=dtype).eval()  # as sample() does
        except FileNotFoundError as exc:
            raise ModelUnavailable(f"{spec.id}: {exc}; set {spec.env_hint}.") from exc
        except Exception as exc:
            if is_out_of_memory(exc):
                raise OutOfMemory(f"Out of memory on {self.device} while loading {spec.id}; "
                                  "set TTS_MAX_LOADED_MODELS lower or use a device with more "
                                  "memory.") from exc
            raise ModelLoadError(
                f"{spec.id} checkpoint {files.checkpoint.name} does not load as a "
                f"{spec.architecture} with this config and vocab: {short(exc)}. Check the "
                "checkpoint file, the architecture config and the vocab it was trained with."
            ) from exc
        apply_precision(model.transformer, self.precision, self.device)
        self._compile(model.transformer)
        self._model = model
        self._vocoder = vocoder

    def _compile(self, transformer: Any) -> None:
        """TTS_COMPILE for this model: the plan (auto's reasons), then the compile from the
        persisted cache; under auto a compile that fails leaves the model eager, with a
        warning."""
        spec = self.spec
        cache = self.compile_cache
        key = None
        state = "none"
        if cache is not None:
            key = cache_key(architecture=spec.architecture, config=spec.config,
                            precision=self.precision.name, device=self.device)
            state = cache.state(key)[0]
        parameters = sum(p.numel() for p in transformer.parameters())
        plan = plan_compile(self.compile_setting, device=self.device,
                            architecture=spec.architecture, parameters=parameters,
                            precision=self.precision.name,
                            cache_state=COLD if state == "none" else state)
        report = CompileReport(str(self.compile_setting), False, plan.reason, state)
        if plan.compile:
            try:
                self.compile_seconds = compile_transformer(transformer, model_id=spec.id,
                                                           cache=cache, key=key)
                report.compiled, report.seconds = True, self.compile_seconds
                if cache is not None and key is not None and state not in (WARM, COLD):
                    report.cache = "rebuilt"
            except ModelLoadError as exc:
                if plan.required:
                    raise
                uncompile(transformer)
                report.reason = (f"{plan.reason}; but compiling failed, so it runs "
                                 f"uncompiled ({root_cause(exc.__cause__ or exc)})")
                logger.warning("%s: %s", spec.id, report.reason)
        logger.info("%s: %s (%s)", spec.id, "compiled" if report.compiled else "not compiled",
                    report.reason)
        self.compile_report = report

    def prepare(self, ref: PreparedReference) -> Any:
        import torch

        return torch.from_numpy(ref.samples).unsqueeze(0)

    def synthesize_chunk(self, prepared: Any, ref_text: str, text: str, params: ChunkParams,
                         seed: int, should_stop: Callable[[], bool] | None = None
                         ) -> ChunkAudio:
        from f5_tts.infer.utils_infer import infer_batch_process
        from f5_tts.model.utils import seed_everything

        seed_everything(seed)  # process-wide generators: the device is ours alone meanwhile
        with _stoppable(self._model.transformer, should_stop):
            wave, sample_rate, mel = next(infer_batch_process(
                (prepared, SAMPLE_RATE), ref_text, [text], self._model, self._vocoder,
                mel_spec_type="vocos", progress=None, nfe_step=params.nfe_step,
                cfg_strength=params.cfg_strength, sway_sampling_coef=params.sway_sampling_coef,
                speed=params.speed, device=self.device))
        if wave is None:
            raise GenerationFailed("The model produced no audio for this text.", attr="gen_text")
        return ChunkAudio(np.asarray(wave, dtype=np.float32), sample_rate, mel)

    def footprint(self) -> Footprint | None:
        model = self._model
        if model is None:
            return None
        # Autocast computes in a lower precision over float32 weights: report the arithmetic.
        return Footprint(self.device, self.precision.name or module_precision(model),
                         module_megabytes(model))

    def unload(self) -> None:
        self._model = None
        self._vocoder = None


class F5Backend(FlowMatchingBackend):
    """F5-TTS: DiT backbone (ConvNeXt text encoder)."""


class E2Backend(FlowMatchingBackend):
    """E2-TTS: flat UNet-Transformer backbone, characters padded to the mel length."""


@contextlib.contextmanager
def _stoppable(transformer: Any, should_stop: Callable[[], bool] | None) -> Iterator[None]:
    """Check ``should_stop`` before every denoising step (each is one forward pass of the
    transformer), so a cancelled generation gives the device back within a step, not a
    chunk."""
    if should_stop is None:
        yield
        return

    def check(module: Any, args: Any) -> None:
        if should_stop():
            raise GenerationCancelled("The generation was cancelled.")

    handle = transformer.register_forward_pre_hook(check)
    try:
        yield
    finally:
        handle.remove()


def short(exc: BaseException, limit: int = 300) -> str:
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + "…"
