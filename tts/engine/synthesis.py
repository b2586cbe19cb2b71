"""One generation on a loaded model, through upstream's chunking and batch inference."""

from __future__ import annotations

import secrets
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from . import audio
from .devices import free_device_memory
from .errors import GenerationFailed, OutOfMemory
from .manager import LoadedModel
from .reference import PreparedReference

#: Seeds are kept within 32 bits so every client (JavaScript included) round-trips them exactly.
MAX_SEED = 2**32 - 1
#: Upstream's chunk budget is (22 - reference seconds) worth of text per chunk.
MAX_CHUNK_SECONDS = 22


@dataclass(frozen=True)
class SynthesisParams:
    speed: float = 1.0
    cross_fade_duration: float = 0.15
    nfe_step: int = 32
    cfg_strength: float = 2.0
    sway_sampling_coef: float = -1.0
    remove_silence: bool = False
    seed: int | None = None


@dataclass
class SynthesisResult:
    samples: np.ndarray
    sample_rate: int
    seed: int
    ref_text: str
    chunks: int
    spectrogram: np.ndarray | None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return audio.seconds(self.samples, self.sample_rate)


ProgressCallback = Callable[[int, int], None]


class _Progress:
    """Adapter for upstream's ``progress.tqdm(iterable)`` hook: reports chunks done/total."""

    def __init__(self, callback: ProgressCallback):
        self.callback = callback

    def tqdm(self, iterable: Iterable) -> Iterator:
        items = list(iterable)
        for done, item in enumerate(items, start=1):
            yield item
            self.callback(done, len(items))


def chunk_text(ref: PreparedReference, gen_text: str, speed: float) -> list[str]:
    """Split ``gen_text`` as upstream's ``infer_process`` does, from the prepared reference."""
    from f5_tts.infer.utils_infer import chunk_text as upstream_chunk_text

    ref_seconds = ref.seconds
    max_chars = int(len(ref.ref_text.encode("utf-8")) / ref_seconds
                    * (MAX_CHUNK_SECONDS - ref_seconds) * speed)
    return upstream_chunk_text(gen_text, max_chars=max_chars)


def synthesize(loaded: LoadedModel, ref: PreparedReference, gen_text: str,
               params: SynthesisParams, progress: ProgressCallback | None = None
               ) -> SynthesisResult:
    """Generate speech. The caller holds ``loaded.lock`` (seeding is process-wide)."""
    import torch
    from f5_tts.infer.utils_infer import infer_batch_process
    from f5_tts.model.utils import seed_everything

    batches = chunk_text(ref, gen_text, params.speed)
    if not batches:
        raise GenerationFailed("gen_text produced no text to speak; send words.", attr="gen_text")
    # Not the `random` module: seed_everything reseeds it, so after a seeded request the
    # "random" seeds of the next ones would repeat across clients.
    seed = params.seed if params.seed is not None else secrets.randbelow(MAX_SEED + 1)
    reference = torch.from_numpy(ref.samples).unsqueeze(0)
    started = time.perf_counter()
    try:
        seed_everything(seed)
        wave, sample_rate, spectrogram = next(infer_batch_process(
            (reference, ref.sample_rate), ref.ref_text, batches, loaded.model, loaded.vocoder,
            mel_spec_type="vocos", progress=_Progress(progress) if progress else None,
            cross_fade_duration=params.cross_fade_duration, nfe_step=params.nfe_step,
            cfg_strength=params.cfg_strength, sway_sampling_coef=params.sway_sampling_coef,
            speed=params.speed, device=loaded.device,
        ))
    except torch.cuda.OutOfMemoryError as exc:
        free_device_memory(loaded.device)
        raise OutOfMemory("Out of device memory during generation; send shorter text or "
                          "retry when the server is less busy.") from exc
    inference_seconds = time.perf_counter() - started
    if wave is None:
        raise GenerationFailed("The model produced no audio for this text.", attr="gen_text")
    wave = np.asarray(wave, dtype=np.float32)
    if params.remove_silence:
        wave = remove_silences(wave, sample_rate)
    return SynthesisResult(
        samples=wave, sample_rate=sample_rate, seed=seed, ref_text=ref.ref_text,
        chunks=len(batches), spectrogram=spectrogram,
        timings={"inference_seconds": inference_seconds},
    )


def remove_silences(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Upstream's ``remove_silence_for_generated_wav`` works on a file: give it one that is
    gone when we are done."""
    from f5_tts.infer.utils_infer import remove_silence_for_generated_wav

    with tempfile.TemporaryDirectory(prefix="tts-silence-") as folder:
        path = Path(folder) / "generated.wav"
        path.write_bytes(audio.encode(samples, sample_rate, "wav"))
        remove_silence_for_generated_wav(str(path))
        cleaned, _ = sf.read(path, dtype="float32")
    return cleaned if cleaned.size else samples  # all silence: keep what there was
