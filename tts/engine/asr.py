"""Speech recognition for references sent without a transcript (faster-whisper / CTranslate2)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelUnavailable

logger = logging.getLogger(__name__)

WHISPER_SAMPLE_RATE = 16_000


class Transcriber:
    """Loads a Whisper model lazily, once, and keeps it warm.

    ``model`` is a faster-whisper model name (downloaded when downloads are allowed) or a local
    CTranslate2 folder.
    """

    def __init__(self, model: str, *, device: str = "cpu", allow_downloads: bool = True,
                 language: str | None = None):
        self.model_name = model
        # CTranslate2 runs on cuda or cpu, not mps. "auto" stays on cpu: CTranslate2's CUDA
        # build needs its own CUDA/cuDNN libraries, which a torch install may not provide.
        self.device, self.device_index = _ctranslate2_device(device)
        self.allow_downloads = allow_downloads
        self.language = language
        self._model: Any = None
        self._load_lock = threading.Lock()
        self._use_lock = threading.Lock()  # CTranslate2 models are not re-entrant on one device

    @property
    def is_loaded(self) -> bool:
        return self._model is not None

    def _get(self) -> Any:
        if self._model is None:
            with self._load_lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def _load(self) -> Any:
        from faster_whisper import WhisperModel

        local = Path(self.model_name).expanduser()
        if _looks_like_path(self.model_name) and not local.is_dir():
            raise ModelUnavailable(
                f"Speech recognition model folder {self.model_name!r} (TTS_ASR_MODEL) does not "
                "exist; send ref_text with the transcript of the clip, or point TTS_ASR_MODEL "
                "at a faster-whisper (CTranslate2) model folder.")
        try:
            return WhisperModel(str(local) if local.is_dir() else self.model_name,
                                device=self.device, device_index=self.device_index,
                                compute_type="default",
                                local_files_only=not self.allow_downloads)
        except Exception as exc:
            raise ModelUnavailable(
                f"Speech recognition model {self.model_name!r} could not be loaded "
                f"({type(exc).__name__}); send ref_text with the transcript of the clip, or set "
                "TTS_ASR_MODEL to a local faster-whisper folder."
            ) from exc

    def transcribe(self, samples: np.ndarray, sample_rate: int) -> str:
        """The words spoken in ``samples``; "" when there is no speech.

        Voice-activity detection runs first, so a clip of tone, music or noise costs almost
        nothing and yields "" instead of a hallucination (without it, Whisper "heard" a tone as
        "Beep beep beep…" and retried at five temperatures of 448 tokens each, ~35 s of CPU).
        The token budget per window is bounded by the clip's length for the same reason.
        """
        model = self._get()
        waveform = _resample(samples, sample_rate, WHISPER_SAMPLE_RATE)
        seconds = len(waveform) / WHISPER_SAMPLE_RATE
        with self._use_lock:
            segments, _ = model.transcribe(waveform, language=self.language, beam_size=1,
                                           vad_filter=True, condition_on_previous_text=False,
                                           max_new_tokens=_token_budget(seconds))
            text = " ".join(segment.text.strip() for segment in segments)
        logger.debug("transcribed reference: %r", text)
        return text.strip()


    def recognise(self, samples: np.ndarray, sample_rate: int) -> Recognition:
        """The words spoken in ``samples`` with their times (seconds from the start of
        ``samples``) and probabilities: the listening pass (tts.engine.listen).

        Deterministic (greedy decoding at temperature 0 only), so that the same audio is always
        heard the same way and a verified generation reproduces. Voice-activity detection
        keeps silence, tone and noise from being "heard" as words; its cuts are mapped back,
        so times stay on the clip's timeline."""
        model = self._get()
        waveform = _resample(samples, sample_rate, WHISPER_SAMPLE_RATE)
        seconds = len(waveform) / WHISPER_SAMPLE_RATE
        with self._use_lock:
            segments, info = model.transcribe(
                waveform, language=self.language, beam_size=1, temperature=0.0,
                vad_filter=True, condition_on_previous_text=False, word_timestamps=True,
                max_new_tokens=_token_budget(seconds))
            words = [HeardWord(word.word.strip(), float(word.start), float(word.end),
                               float(word.probability))
                     for segment in segments for word in (segment.words or [])
                     if word.word.strip()]
        return Recognition(words=words, language=getattr(info, "language", None) or "")

    def unavailable_reason(self) -> str | None:
        """Why the model cannot load, when that is plain without loading it (a missing
        folder); None otherwise."""
        local = Path(self.model_name).expanduser()
        if _looks_like_path(self.model_name) and not local.is_dir():
            return ("The speech recognition model folder (TTS_ASR_MODEL) does not exist; "
                    "point TTS_ASR_MODEL at a faster-whisper (CTranslate2) model folder.")
        return None

    def languages(self) -> tuple[str, ...] | None:
        """The languages the model can hear; None when any (a multilingual model). An
        English-only model (``*.en``) hears English only. Never loads the model."""
        if self.language:
            return (self.language,)
        name = Path(self.model_name).name.lower()
        config = Path(self.model_name).expanduser() / "config.json"
        if name.endswith(".en") or "tiny.en" in name or _english_only_config(config):
            return ("en",)
        return None


@dataclass(frozen=True)
class HeardWord:
    word: str
    start: float
    end: float
    probability: float


@dataclass(frozen=True)
class Recognition:
    words: list[HeardWord]
    language: str

    @property
    def text(self) -> str:
        return " ".join(word.word for word in self.words)


def _english_only_config(config: Path) -> bool:
    """A CTranslate2 Whisper folder with an English-only vocabulary (51864 tokens; the
    multilingual ones have 51865 or more), without loading the model."""
    vocabulary = config.parent / "vocabulary.txt"
    try:
        with vocabulary.open("rb") as handle:
            return sum(1 for _ in handle) <= 51864
    except OSError:
        return False


#: Generous for speech (fast English is ~6 tokens/s, timestamps included); a window's total
#: (prompt included) must stay under Whisper's 448.
TOKENS_PER_SECOND = 12
MAX_TOKENS = 400


def _ctranslate2_device(device: str) -> tuple[str, int]:
    """TTS_DEVICE in CTranslate2's terms: ("cuda", index) for cuda[:N], else ("cpu", 0)."""
    if device.startswith("cuda"):
        _, _, index = device.partition(":")
        return "cuda", int(index) if index.isdigit() else 0
    return "cpu", 0


def _looks_like_path(name: str) -> bool:
    return name.startswith(("/", ".", "~")) or "\\" in name or name.count("/") > 1


def _token_budget(seconds: float) -> int:
    return min(int(TOKENS_PER_SECOND * min(seconds, 30.0)) + 32, MAX_TOKENS)


def _resample(samples: np.ndarray, source: int, target: int) -> np.ndarray:
    if source == target:
        return samples.astype(np.float32)
    import torch
    import torchaudio

    tensor = torch.from_numpy(samples.astype(np.float32))
    return torchaudio.functional.resample(tensor, source, target).numpy()
