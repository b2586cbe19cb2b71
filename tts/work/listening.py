"""What a request asks of the listening pass, and what it gets back: word timestamps,
captions and the intelligibility guard's verdict, shaped for replies, streams and jobs.

The pass itself runs in the engine (tts.engine.listen), where the models run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings

from tts.engine import captions as subtitles
from tts.engine.listen import ListenOptions
from tts.observability.metrics import VERIFY_CER, VERIFY_CHUNKS, VERIFY_RETRIES

#: The request options of the listening pass (they travel with the other options).
OPTION_NAMES = ("timestamps", "captions", "verify")


def listen_options(options: Mapping[str, Any]) -> ListenOptions | None:
    """The listening a request asks for (None: none). ``verify`` absent or null means the
    operator's TTS_VERIFY_DEFAULT; captions imply timestamps."""
    verify = options.get("verify")
    if verify is None:
        verify = settings.TTS_VERIFY_DEFAULT
    words = bool(options.get("timestamps")) or bool(options.get("captions"))
    if not words and not verify:
        return None
    return ListenOptions(words=words, verify=bool(verify), max_cer=settings.TTS_VERIFY_MAX_CER,
                         retries=settings.TTS_VERIFY_RETRIES)


def word_dicts(words: Sequence | None, *, voice: str | None = None,
               offset: float = 0.0) -> list[dict]:
    """Engine words (tts.engine.listen.WordTime) as the API shows them, each naming its voice
    (a saved voice id, or None for an uploaded clip), ``offset`` seconds later."""
    return [{"word": word.word, "start": round(word.start + offset, 3),
             "end": round(word.end + offset, 3), "confidence": round(word.confidence, 3),
             "voice": voice} for word in words or []]


def verification(checks: Sequence[dict]) -> dict:
    """The guard's verdict: every chunk's, and whether all passed."""
    chunks = [{key: check[key] for key in ("index", "cer", "attempts", "seed", "passed",
                                           "recognised")} for check in checks]
    return {"passed": all(check["passed"] for check in chunks),
            "max_cer": settings.TTS_VERIFY_MAX_CER, "retries": settings.TTS_VERIFY_RETRIES,
            "chunks": chunks}


def listening_fields(options: Mapping[str, Any], *, words: list[dict] | None,
                     checks: Sequence[dict] | None, with_captions: bool = True) -> dict:
    """The reply's listening fields for what was asked: ``words``, ``captions`` (the file as
    text) and ``verification``."""
    fields: dict[str, Any] = {}
    listen = listen_options(options)
    if listen is None:
        return fields
    if listen.words and words is not None:
        fields["words"] = words
        if with_captions and options.get("captions"):
            fields["captions"] = subtitles.render(words, options["captions"])
    if listen.verify and checks is not None:
        fields["verification"] = verification(checks)
    return fields


def count_checks(model: str, checks: Sequence[dict] | None) -> None:
    """The guard's work in /metrics: each chunk's error rate, retries, and gave-ups."""
    for check in checks or []:
        VERIFY_CER.labels(model=model).observe(check["cer"])
        VERIFY_RETRIES.labels(model=model).inc(check["attempts"] - 1)
        VERIFY_CHUNKS.labels(model=model, passed=str(check["passed"]).lower()).inc()
