"""Speech as the bytes of one audio file, as they come from the engine's chunk stream."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping
from typing import Any

from .streaming import speech_stream


class SpeechAudio:
    """Async-iterable bytes of one file, what is known before the first byte (seed, model),
    ``summary()`` once the last one is out, and ``close`` (Django calls it when the response
    ends: a generation nobody reads any more stops)."""

    def __init__(self, pieces: AsyncIterable[bytes], *, seed: int, model: str,
                 summary: Callable[[], dict], close: Callable[[], None] | None = None):
        self._pieces = pieces
        self.seed = seed
        self.model = model
        self.summary = summary
        self._close = close

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._pieces.__aiter__()

    def close(self) -> None:
        if self._close is not None:
            self._close()


def speech_audio(*, model_id: str = "", voice: str, gen_text: str, options: Mapping[str, Any],
                 output_format: str, label: str = "-") -> SpeechAudio:
    """Admission, reference and model are settled before this returns (errors are ordinary
    replies); the audio is made while the caller iterates."""
    args = {"model_id": model_id, "voice": voice, "gen_text": gen_text, "options": options,
            "output_format": output_format, "label": label}
    session = speech_stream(**args)
    return SpeechAudio(session, seed=session.seed, model=session.model,
                       close=session.close,
                       summary=lambda: {"duration": session.summary()["duration"]})
