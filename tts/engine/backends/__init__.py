"""Model backends: one per architecture family, chosen by the model spec."""

from __future__ import annotations

from ..precision import Precision
from ..registry import ModelSpec
from .base import ChunkAudio, ChunkParams, ModelBackend, ModelFiles
from .f5 import E2Backend, F5Backend, load_vocoder

BACKENDS: dict[str, type] = {"DiT": F5Backend, "UNetT": E2Backend}


def backend_for(spec: ModelSpec, device: str, precision: Precision | None = None, *,
                compile_layers: bool = False) -> ModelBackend:
    return BACKENDS[spec.architecture](spec, device, precision, compile_layers=compile_layers)


__all__ = ["ChunkAudio", "ChunkParams", "ModelBackend", "ModelFiles", "backend_for",
           "load_vocoder"]
