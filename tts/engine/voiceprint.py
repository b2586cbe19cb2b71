"""Speaker similarity: how much generated speech sounds like its reference.

A speaker encoder (Resemblyzer's GE2E network, whose weights ship inside its PyPI wheel, so it
loads offline) turns speech into a 256-number voiceprint; the cosine of two voiceprints is
their similarity (about 0.75-0.95 for the same speaker with real weights, lower for another:
docs/api/voice-match.md). The reference's voiceprint is computed once per prepared reference and
kept; each generated chunk gets its own, and the whole output's is the duration-weighted mean
of its chunks'. See docs/architecture.md ("Voice match") for why this encoder.
"""

from __future__ import annotations

import hashlib
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: The encoder's sample rate.
SAMPLE_RATE = 16000
#: Speech shorter than this (after long silences are trimmed) gets no voiceprint: too little
#: to say who speaks.
MIN_SPEECH_SECONDS = 0.5
#: Reference voiceprints kept in memory.
CACHE_ENTRIES = 256


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two voiceprints (-1..1; GE2E voiceprints are non-negative, so 0..1)."""
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b) / norm) if norm else 0.0


def mean_print(prints: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray | None:
    """The weighted mean voiceprint, unit length (None for none)."""
    if not prints:
        return None
    mean = np.average(np.stack(prints), axis=0, weights=np.asarray(weights, dtype=np.float64))
    norm = np.linalg.norm(mean)
    return (mean / norm).astype(np.float32) if norm else None


def samples_key(samples: np.ndarray, sample_rate: int) -> str:
    """A content key for audio samples (the reference cache's key)."""
    digest = hashlib.sha256(np.ascontiguousarray(samples, dtype=np.float32).tobytes())
    digest.update(str(sample_rate).encode())
    return digest.hexdigest()


def _resemblyzer():
    """The resemblyzer package (deferred: torch comes with it), without its SciPy
    deprecation warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import resemblyzer
    return resemblyzer


def default_weights() -> Path:
    """The GE2E weights inside the resemblyzer package."""
    resemblyzer = _resemblyzer()

    return Path(resemblyzer.__file__).resolve().parent / "pretrained.pt"


_networks: dict[tuple[str, str], object] = {}
_networks_lock = threading.Lock()


class SpeakerEncoder:
    """Voiceprints of speech. Loads its network on first use (once per process, thread-safe);
    ``reference`` keeps each reference's voiceprint under its content key."""

    def __init__(self, *, device: str | Callable[[], str] = "cpu",
                 weights: str | Path | None = None):
        #: The device, or what names it when the network first loads (the engine's, which is
        #: resolved lazily: a wrong TTS_DEVICE is reported by the checks, not by this).
        self._device = device
        self.weights = Path(weights) if weights else None
        self._model = None
        self._lock = threading.Lock()
        self._references: OrderedDict[str, np.ndarray | None] = OrderedDict()

    @property
    def device(self) -> str:
        """Where the network runs: the engine's GPU, else the CPU (mps is not supported)."""
        device = self._device() if callable(self._device) else self._device
        return device if device in ("cpu", "cuda") or device.startswith("cuda:") else "cpu"

    def _network(self):
        if self._model is None:
            with _networks_lock:  # one network per process and device, whatever the engines
                key = (self.device, str(self.weights or ""))
                if key not in _networks:
                    _networks[key] = self._load()
                self._model = _networks[key]
        return self._model

    def _load(self):
        import torch

        VoiceEncoder = _resemblyzer().VoiceEncoder  # noqa: N806

        path = self.weights or default_weights()
        # Read with weights_only first: a file holding anything but tensors is refused here,
        # before VoiceEncoder (which calls torch.load with torch's default) touches it.
        state = torch.load(path, map_location="cpu", weights_only=True)
        if "model_state" not in state:
            raise ValueError(f"{path} is not a Resemblyzer checkpoint (no model_state)")
        # VoiceEncoder loads the weights itself from the file just checked.
        return VoiceEncoder(self.device, verbose=False, weights_fpath=path).eval()

    def prepare(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        """Speech as the encoder hears it: 16 kHz, volume raised, long silences trimmed."""
        return _resemblyzer().preprocess_wav(np.asarray(samples, dtype=np.float32),
                                             source_sr=sample_rate)

    def embed(self, samples: np.ndarray, sample_rate: int) -> np.ndarray | None:
        """The voiceprint of ``samples`` (unit length); None when there is too little speech."""
        wav = self.prepare(samples, sample_rate)
        return self.embed_prepared(wav)

    def embed_prepared(self, wav: np.ndarray) -> np.ndarray | None:
        if len(wav) < MIN_SPEECH_SECONDS * SAMPLE_RATE or not np.any(wav):
            return None
        model = self._network()
        with self._lock:  # one forward at a time (torch threads are shared with generation)
            return model.embed_utterance(wav).astype(np.float32)

    def segments(self, wav: np.ndarray, *, rate: float = 1.0) -> np.ndarray:
        """Voiceprints of the 1.6 s windows of prepared speech ``wav`` (rows), ``rate`` a
        second: how the voice varies along a clip."""
        if len(wav) < MIN_SPEECH_SECONDS * SAMPLE_RATE:
            return np.zeros((0, 256), dtype=np.float32)
        model = self._network()
        with self._lock:
            _, partials, _ = model.embed_utterance(wav, return_partials=True, rate=rate,
                                                   min_coverage=0.75)
        return np.asarray(partials, dtype=np.float32)

    def reference(self, samples: np.ndarray, sample_rate: int,
                  key: str | None = None) -> np.ndarray | None:
        """The reference's voiceprint, computed once per ``key`` (its content by default)."""
        key = key or samples_key(samples, sample_rate)
        with self._lock:
            if key in self._references:
                self._references.move_to_end(key)
                return self._references[key]
        voiceprint = self.embed(samples, sample_rate)
        self.remember(key, voiceprint)
        return voiceprint

    def remember(self, key: str, voiceprint: np.ndarray | None) -> None:
        """Keep a reference's voiceprint (one read back from storage, or just computed)."""
        with self._lock:
            self._references[key] = voiceprint
            self._references.move_to_end(key)
            while len(self._references) > CACHE_ENTRIES:
                self._references.popitem(last=False)


@dataclass
class VoiceMatch:
    """A generation's reference voiceprint and the encoder that scores its chunks."""

    encoder: SpeakerEncoder
    reference: np.ndarray | None

    def score(self, samples: np.ndarray, sample_rate: int
              ) -> tuple[float | None, np.ndarray | None]:
        """The chunk's similarity to the reference (None: too little speech to say) and its
        voiceprint."""
        if self.reference is None:
            return None, None
        voiceprint = self.encoder.embed(samples, sample_rate)
        if voiceprint is None:
            return None, None
        return round(cosine(self.reference, voiceprint), 4), voiceprint

    def overall(self, prints: Sequence[np.ndarray], seconds: Sequence[float]) -> float | None:
        """The whole output's similarity: its chunks' voiceprints, weighted by duration."""
        mean = mean_print(prints, seconds)
        if mean is None or self.reference is None:
            return None
        return round(cosine(self.reference, mean), 4)
