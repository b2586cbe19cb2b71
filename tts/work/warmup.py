"""Warm-up: one short real generation per preloaded model, through the engine facade, so that
the CUDA context, the kernels, the precision casts and the vocoder are paid for at start
rather than by the first client."""

from __future__ import annotations

import io
import logging
import time

import numpy as np
import soundfile as sf

from tts.engine.synthesis import SynthesisParams, SynthesisResult

logger = logging.getLogger(__name__)

WARMUP_SAMPLE_RATE = 24_000
WARMUP_SECONDS = 2.5
#: Any words do: the clip is not speech, and the output is thrown away.
WARMUP_REF_TEXT = "This is a short warm up clip."
WARMUP_TEXT = "Warming up the model."
#: Few steps: every step runs the same kernels, so more would only cost time.
WARMUP_PARAMS = SynthesisParams(nfe_step=4, seed=0, cross_fade_duration=0.0)


def synthetic_reference(seconds: float = WARMUP_SECONDS,
                        sample_rate: int = WARMUP_SAMPLE_RATE) -> bytes:
    """A voice-like WAV made in memory: a 140 Hz buzz with harmonics, a syllable-rate
    envelope (never silent, so nothing is trimmed) and a little noise."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    buzz = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 8))
    envelope = 0.65 + 0.35 * np.sin(2 * np.pi * 4 * t)
    wave = 0.25 * buzz / np.max(np.abs(buzz)) * envelope + 0.01 * rng.standard_normal(t.size)
    buffer = io.BytesIO()
    sf.write(buffer, wave.astype(np.float32), sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def warm_model(engine, model_id: str) -> SynthesisResult:
    """Generate once with ``model_id`` (loading it if needed) and return what it made.
    Engine errors propagate (the caller retries)."""
    started = time.perf_counter()
    ref, _ = engine.prepare_reference(synthetic_reference(), WARMUP_REF_TEXT)
    result = engine.generate(model_id, ref, WARMUP_TEXT, WARMUP_PARAMS)
    seconds = time.perf_counter() - started
    logger.info("model %s warmed up in %.2f s (%.2f s of audio, nfe %d)", model_id, seconds,
                result.seconds, WARMUP_PARAMS.nfe_step)
    return result
