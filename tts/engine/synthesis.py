"""One generation on a loaded model, through upstream's chunking and batch inference."""

from __future__ import annotations

import secrets
import tempfile
import time
from collections.abc import Callable
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


def chunk_text(ref: PreparedReference, gen_text: str, speed: float) -> list[str]:
    """Split ``gen_text`` as upstream's ``infer_process`` does (sentences within a budget
    derived from the reference), then split any sentence still over budget at spaces, so that
    no request can ask for one enormous chunk."""
    from f5_tts.infer.utils_infer import chunk_text as upstream_chunk_text

    ref_seconds = ref.seconds
    max_chars = max(int(len(ref.ref_text.encode("utf-8")) / ref_seconds
                        * (MAX_CHUNK_SECONDS - ref_seconds) * speed), 1)
    return [piece for chunk in upstream_chunk_text(gen_text, max_chars=max_chars)
            for piece in _split_over_budget(chunk, max_chars)]


def _split_over_budget(chunk: str, max_chars: int) -> list[str]:
    if len(chunk.encode("utf-8")) <= max_chars:
        return [chunk]
    pieces, current = [], ""
    for word in chunk.split():
        while len(word.encode("utf-8")) > max_chars:  # no spaces to split at: cut the word
            if current:
                pieces.append(current)
                current = ""
            cut = max(len(word.encode("utf-8")[:max_chars].decode("utf-8", "ignore")), 1)
            pieces.append(word[:cut])
            word = word[cut:]
        candidate = f"{current} {word}".strip()
        if current and len(candidate.encode("utf-8")) > max_chars:
            pieces.append(current)
            candidate = word
        current = candidate
    if current:
        pieces.append(current)
    return pieces


def synthesize(loaded: LoadedModel, ref: PreparedReference, gen_text: str,
               params: SynthesisParams, progress: ProgressCallback | None = None
               ) -> SynthesisResult:
    """Generate speech. The caller holds the device (seeding is process-wide).

    Chunks go through upstream's ``infer_batch_process`` one at a time: given several, it runs
    them in parallel threads that draw from one global generator in no fixed order, and the
    same seed would not give the same audio.
    """
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
    waves, mels = [], []
    try:
        seed_everything(seed)
        for done, batch in enumerate(batches, start=1):
            wave, sample_rate, mel = next(infer_batch_process(
                (reference, ref.sample_rate), ref.ref_text, [batch], loaded.model,
                loaded.vocoder, mel_spec_type="vocos", progress=None,
                nfe_step=params.nfe_step, cfg_strength=params.cfg_strength,
                sway_sampling_coef=params.sway_sampling_coef, speed=params.speed,
                device=loaded.device))
            if wave is None:
                raise GenerationFailed("The model produced no audio for this text.",
                                       attr="gen_text")
            waves.append(np.asarray(wave, dtype=np.float32))
            mels.append(mel)
            if progress:
                progress(done, len(batches))
    except torch.cuda.OutOfMemoryError as exc:
        free_device_memory(loaded.device)
        raise OutOfMemory("Out of device memory during generation; send shorter text or "
                          "retry when the server is less busy.") from exc
    inference_seconds = time.perf_counter() - started
    wave = cross_fade(waves, int(params.cross_fade_duration * sample_rate))
    if params.remove_silence:
        wave = remove_silences(wave, sample_rate)
    return SynthesisResult(
        samples=wave, sample_rate=sample_rate, seed=seed, ref_text=ref.ref_text,
        chunks=len(batches), spectrogram=np.concatenate(mels, axis=1),
        timings={"inference_seconds": inference_seconds},
    )


def cross_fade(waves: list[np.ndarray], overlap: int) -> np.ndarray:
    """Join chunks with a linear cross-fade of ``overlap`` samples (as upstream joins them)."""
    joined = waves[0]
    for wave in waves[1:]:
        samples = min(overlap, len(joined), len(wave))
        if samples <= 0:
            joined = np.concatenate([joined, wave])
            continue
        ramp = np.linspace(0.0, 1.0, samples, dtype=np.float32)
        blended = joined[-samples:] * (1.0 - ramp) + wave[:samples] * ramp
        joined = np.concatenate([joined[:-samples], blended, wave[samples:]])
    return joined


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
