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

from ..compiler import compile_transformer
from ..devices import is_out_of_memory, module_megabytes, module_precision
from ..errors import (
    GenerationCancelled,
    GenerationFailed,
    ModelLoadError,
    ModelUnavailable,
    OutOfMemory,
)
from ..precision import Precision, autocast_forward, weight_dtype
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
                 compile_layers: bool = False):
        self.spec = spec
        self.device = device
        self.precision = precision or Precision("float32", "default")
        self.compile_layers = compile_layers  # TTS_COMPILE
        self.compile_seconds: float | None = None
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
        autocast_forward(model.transformer, self.precision, self.device)
        if self.compile_layers:
            self.compile_seconds = compile_transformer(model.transformer, model_id=spec.id)
        self._model = model
        self._vocoder = vocoder

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
