"""Forced alignment of audio made anywhere: the listening pass of generated speech, run on an
uploaded file and its text (POST /api/tts/align/)."""

from __future__ import annotations

from tts.engine.errors import InvalidReferenceAudio

from .errors import InvalidInput
from .listening import word_dicts
from .runtime import get_engine


def align_here(*, audio: bytes, text: str, language: str | None = None) -> dict:
    """``{words, duration, recognised}`` by this process's engine. Bad input (no speech, a
    text the audio cannot hold, a language the recogniser cannot hear, undecodable audio) is
    a 400 that says which."""
    try:
        heard, seconds = get_engine().align(audio, text, language=language)
    except InvalidReferenceAudio as exc:  # the decoder's wording names ref_audio
        raise InvalidInput(exc.message.replace("ref_audio", "audio")
                           .replace("reference audio", "audio"), code=exc.code,
                           attr="audio") from exc
    return {"words": word_dicts(heard.words), "duration": round(seconds, 3),
            "recognised": heard.recognised}
