"""Model backends: one per architecture family, chosen by the model spec.

The f5-tts backends (and torch with them) are imported only when a model is loaded, so the
interface can be imported by processes that never run a model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..registry import ModelSpec
from .base import ChunkAudio, ChunkParams, ModelBackend, ModelFiles

if TYPE_CHECKING:
    from ..compile_cache import CompileCache
    from ..precision import Precision


def backend_for(spec: ModelSpec, device: str, precision: Precision | None = None, *,
                compile_layers: bool | str = "0", compile_cache: CompileCache | None = None
                ) -> ModelBackend:
    from .f5 import E2Backend, F5Backend

    backends: dict[str, type] = {"DiT": F5Backend, "UNetT": E2Backend}
    return backends[spec.architecture](spec, device, precision, compile_layers=compile_layers,
                                       compile_cache=compile_cache)


def load_vocoder(*args: Any, **kwargs: Any) -> Any:
    from .f5 import load_vocoder as load

    return load(*args, **kwargs)


__all__ = ["ChunkAudio", "ChunkParams", "ModelBackend", "ModelFiles", "backend_for",
           "load_vocoder"]
