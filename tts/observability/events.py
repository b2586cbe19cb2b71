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
#: Sent when a stream ends before its last piece because its client went away, with
#: ``reason`` ("the client disconnected", "the client stopped reading").
stream_abandoned = Signal()
#: Sent when a job ends (succeeded, failed or cancelled) with ``job`` (tts.models.Job), from
#: the process that ran it.
job_finished = Signal()


def announces_speech(service):
    """Decorates the generation service: sends ``speech_generated`` with its result."""

    @functools.wraps(service)
    def wrapper(*args, **kwargs):
        result = service(*args, **kwargs)
        announce_speech(result, ref_audio=kwargs.get("ref_audio") or b"",
                        gen_text=kwargs.get("gen_text", ""), voice=kwargs.get("voice", ""))
        return result

    return wrapper


def announce_speech(result, *, ref_audio: bytes, gen_text: str, voice: str) -> None:
    """Log the generation and send ``speech_generated`` (in the process that made it, and in
    the web process that relayed it)."""
    log_generation(result.model, result.duration, result.timing, streamed=False)
    speech_generated.send(sender=announce_speech, result=result, ref_audio=ref_audio,
                          gen_text=gen_text, voice=voice)


def announce_streamed(summary) -> None:
    """Send ``speech_streamed`` with ``summary()``; never raises (it runs in the stream's
    worker, whose reader waits for the end marker sent after it)."""
    try:
        facts = summary()
        log_generation(facts["model"], facts["duration"], facts["timing"], streamed=True)
        speech_streamed.send(sender=announce_streamed, summary=facts)
    except Exception:
        logger.exception("a speech_streamed listener failed")


def announce_abandoned(reason: str) -> None:
    """Send ``stream_abandoned``; never raises (see announce_streamed)."""
    try:
        stream_abandoned.send(sender=announce_abandoned, reason=reason)
    except Exception:
        logger.exception("a stream_abandoned listener failed")


def log_generation(model: str, duration: float, timing: dict, *, streamed: bool) -> None:
    """One line per generation: readable as text, and with every figure as a field in JSON
    logs (LOG_FORMAT=json)."""
    logger.info("%s %.2f s of audio with %s in %.2f s (real-time factor %s)",
                "streamed" if streamed else "generated", duration, model,
                timing.get("total_seconds", 0.0), timing.get("real_time_factor"),
                extra={"model": model, "audio_seconds": duration, "streamed": streamed,
                       **{key: value for key, value in timing.items()
                          if isinstance(value, int | float | bool | None)}})
