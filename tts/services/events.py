"""What the services announce, for listeners that are not part of the use case itself (audit
log, metrics). Listeners must not raise: they are called inside the request."""

from __future__ import annotations

import functools

from django.dispatch import Signal

#: Sent after each successful generation with ``result`` (SpeechResult), ``ref_audio``
#: (bytes; empty for a saved voice) and ``gen_text``.
speech_generated = Signal()


def announces_speech(service):
    """Decorates the generation service: sends ``speech_generated`` with its result."""

    @functools.wraps(service)
    def wrapper(*args, **kwargs):
        result = service(*args, **kwargs)
        speech_generated.send(sender=service, result=result,
                              ref_audio=kwargs.get("ref_audio") or b"",
                              gen_text=kwargs.get("gen_text", ""))
        return result

    return wrapper
