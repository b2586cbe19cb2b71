"""Speech generation use case: reference in, encoded audio and its metadata out."""

from __future__ import annotations

import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tts.engine import audio
from tts.engine.errors import ModelUnavailable
from tts.engine.manager import UNAVAILABLE
from tts.engine.reference import ClipInfo
from tts.engine.synthesis import ProgressCallback, SynthesisParams

from .events import announces_speech
from .runtime import get_engine


@dataclass
class SpeechResult:
    audio: bytes
    format: str
    content_type: str
    sample_rate: int
    duration: float
    model: str
    seed: int
    ref_text: str
    ref_clip: ClipInfo
    chunks: int
    parameters: dict
    timing: dict
    spectrogram_png: bytes | None = None


@announces_speech
def speech_generate(*, model_id: str = "", ref_audio: bytes, ref_text: str, gen_text: str,
                    params: SynthesisParams, output_format: str = "wav",
                    include_spectrogram: bool = False,
                    progress: ProgressCallback | None = None) -> SpeechResult:
    """``model_id`` empty means the server's default model."""
    started = time.perf_counter()
    engine = get_engine()
    model_id = model_id or engine.config.default_model
    engine.registry.get(model_id)  # unknown model: fail before decoding anything
    status = engine.models.status(model_id)
    if status.state == UNAVAILABLE:
        raise ModelUnavailable(status.reason or f"{model_id} is not available.")
    ref, cache_hit = engine.prepare_reference(ref_audio, ref_text)
    prepared = time.perf_counter()
    result = engine.generate(model_id, ref, gen_text, params, progress=progress)
    encoded = audio.encode(result.samples, result.sample_rate, output_format)
    spectrogram = (render_spectrogram(result.spectrogram)
                   if include_spectrogram and result.spectrogram is not None else None)
    total = time.perf_counter() - started
    duration = round(result.seconds, 3)
    inference = result.timings["inference_seconds"]
    return SpeechResult(
        audio=encoded,
        format=output_format,
        content_type=audio.OUTPUT_FORMATS[output_format].content_type,
        sample_rate=result.sample_rate,
        duration=duration,
        model=model_id,
        seed=result.seed,
        ref_text=ref.ref_text.strip(),
        ref_clip=ref.clip,
        chunks=result.chunks,
        parameters={
            "speed": params.speed, "nfe_step": params.nfe_step,
            "cross_fade_duration": params.cross_fade_duration,
            "remove_silence": params.remove_silence, "cfg_strength": params.cfg_strength,
            "sway_sampling_coef": params.sway_sampling_coef,
        },
        timing={
            "total_seconds": round(total, 4),
            "preprocess_seconds": round(prepared - started, 4),
            "reference_cached": cache_hit,
            "queue_seconds": round(result.timings["queue_seconds"], 4),
            "load_seconds": round(result.timings["load_seconds"], 4),
            "inference_seconds": round(inference, 4),
            "real_time_factor": round(inference / duration, 4) if duration else None,
        },
        spectrogram_png=spectrogram,
    )


_PLOT_LOCK = threading.Lock()


def render_spectrogram(mel) -> bytes:
    """PNG of the generated mel, via upstream's own plot helper. It draws with pyplot's
    process-wide current figure, so one at a time."""
    from f5_tts.infer.utils_infer import save_spectrogram

    with tempfile.TemporaryDirectory(prefix="tts-spec-") as folder, _PLOT_LOCK:
        path = Path(folder) / "spectrogram.png"
        save_spectrogram(mel, str(path))
        return path.read_bytes()


