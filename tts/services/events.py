"""What the services announce, for listeners that are not part of the use case itself (audit
log, metrics). Listeners must not raise: they are called inside the request."""

from __future__ import annotations

import functools
import logging

from django.dispatch import Signal

logger = logging.getLogger(__name__)

#: Sent after each successful generation with ``result`` (SpeechResult), ``ref_audio``
#: (bytes; empty for a saved voice), ``voice`` (a saved voice's id, or "") and ``gen_text``.
speech_generated = Signal()
#: Sent when a streamed generation ends (finished, failed or cancelled) with ``summary`` (the
#: reply's metadata: model, duration of the audio sent, timing).
speech_streamed = Signal()


def announces_speech(service):
    """Decorates the generation service: sends ``speech_generated`` with its result."""

    @functools.wraps(service)
    def wrapper(*args, **kwargs):
        result = service(*args, **kwargs)
        speech_generated.send(sender=service, result=result,
                              ref_audio=kwargs.get("ref_audio") or b"",
                              gen_text=kwargs.get("gen_text", ""), voice=kwargs.get("voice", ""))
        return result

    return wrapper


def announce_streamed(summary) -> None:
    """Send ``speech_streamed`` with ``summary()``; never raises (it runs in the stream's
    worker, whose reader waits for the end marker sent after it)."""
    try:
        speech_streamed.send(sender=announce_streamed, summary=summary())
    except Exception:
        logger.exception("a speech_streamed listener failed")
