"""The interface every model backend implements; the scheduler and streams see nothing else."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ..reference import PreparedReference
from ..registry import ModelSpec

if TYPE_CHECKING:  # torch: only where a model runs, never in a celery-mode web process
    from ..precision import Precision


@dataclass(frozen=True)
class ModelFiles:
    """Local paths of everything a model needs (hub files already fetched)."""

    checkpoint: Path
    vocab: Path | None
    vocoder: Path


@dataclass(frozen=True)
class ChunkParams:
    """What one chunk's synthesis needs to know."""

    nfe_step: int = 32
    cfg_strength: float = 2.0
    sway_sampling_coef: float = -1.0
    speed: float = 1.0


@dataclass(frozen=True)
class ChunkAudio:
    samples: np.ndarray  # mono float32
    sample_rate: int
    mel: np.ndarray | None = None  # (mels, frames), for the spectrogram


@dataclass(frozen=True)
class Footprint:
    """What a loaded model actually occupies: where, in which dtype, how much."""

    device: str
    precision: str | None  # "float16", "float32", ...
    weights_mb: float


class ModelBackend(Protocol):
    """One model on one device: load it, prepare references for it, speak one chunk, unload.

    A backend is used by one generation at a time (the device scheduler sees to that), so it
    needs no locking of its own.
    """

    spec: ModelSpec
    device: str
    precision: Precision

    def load(self, files: ModelFiles, vocoder: Any) -> None: ...

    def prepare(self, ref: PreparedReference) -> Any:
        """The reference in the form ``synthesize_chunk`` takes (cheap; done per generation)."""

    def synthesize_chunk(self, prepared: Any, ref_text: str, text: str, params: ChunkParams,
                         seed: int, should_stop: Callable[[], bool] | None = None
                         ) -> ChunkAudio:
        """Speak one chunk of text; the same seed gives the same samples. When
        ``should_stop`` turns true the chunk is abandoned with GenerationCancelled."""

    def unload(self) -> None:
        """Drop every tensor this backend holds, so the allocator can give the memory back."""

    def footprint(self) -> Footprint | None:
        """Device, dtype and size of the loaded weights; None when not loaded."""

    @property
    def is_loaded(self) -> bool: ...
