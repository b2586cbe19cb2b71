"""Speech generation use cases: a reference (an upload or a saved voice) and a text in,
encoded audio (or a stream of it) and its metadata out, made wherever the executor runs it.
Refusals that need no model (an unknown model, a full queue) come before any decoding."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tts.engine.captions import FORMATS as CAPTION_FORMATS
from tts.engine.captions import render as render_captions
from tts.engine.synthesis import DEFAULT_QUALITY, MAX_SEED, QUALITY_NFE, nfe_for
from tts.execution import executor
from tts.work.sessions import StreamSession
from tts.work.speech import CONTENT_TYPES, OUTPUT_FORMATS, SpeechRequest, SpeechResult
from tts.work.voices import ANYONE, Tenant

from .voices import check_request_voices

#: For the HTTP layer's validation: what may be asked for.
SEED_RANGE = (0, MAX_SEED)

__all__ = ["CAPTION_FORMATS", "CONTENT_TYPES", "DEFAULT_QUALITY", "OUTPUT_FORMATS",
           "QUALITY_NFE", "SEED_RANGE", "SpeechResult", "StreamSession", "nfe_for",
           "render_captions", "speech_align", "speech_generate", "speech_stream"]



def speech_generate(*, gen_text: str, options: Mapping[str, Any], model_id: str = "",
                    ref_audio: bytes | None = None, ref_text: str = "", voice: str = "",
                    output_format: str = "wav", include_spectrogram: bool = False,
                    label: str = "-", tenant: Tenant = ANYONE) -> SpeechResult:
    """The whole file at once. ``[voice-id]`` tags in ``gen_text`` make it a multi-voice
    script (tts.work.scripts); ``model_id`` empty means the server's default model. The
    voices it names must be the tenant's to use."""
    voice_keys = check_request_voices(voice=voice, gen_text=gen_text, tenant=tenant)
    return executor().generate(SpeechRequest(
        gen_text=gen_text, options=options, model_id=model_id, ref_audio=ref_audio,
        ref_text=ref_text, voice=voice, voice_keys=voice_keys, output_format=output_format,
        include_spectrogram=include_spectrogram, label=label))


def speech_stream(*, gen_text: str, options: Mapping[str, Any], model_id: str = "",
                  ref_audio: bytes | None = None, ref_text: str = "", voice: str = "",
                  output_format: str = "wav", events: bool = False,
                  label: str = "-", tenant: Tenant = ANYONE) -> StreamSession:
    """Admitted, prepared and loaded before it returns (errors are still ordinary replies);
    generated while the caller iterates: one growing file, or Server-Sent Events."""
    voice_keys = check_request_voices(voice=voice, gen_text=gen_text, tenant=tenant)
    return executor().stream(SpeechRequest(
        gen_text=gen_text, options=options, model_id=model_id, ref_audio=ref_audio,
        ref_text=ref_text, voice=voice, voice_keys=voice_keys, output_format=output_format,
        events=events, label=label))


def speech_align(*, audio: bytes, text: str, language: str | None = None,
                 captions: str | None = None) -> dict:
    """Time every word of ``text`` in ``audio`` (made anywhere): ``{words, duration,
    recognised[, captions]}``, by the listening pass wherever the models run."""
    aligned = executor().align(audio=audio, text=text, language=language)
    if captions:
        aligned["captions"] = render_captions(aligned["words"], captions)
    return aligned
