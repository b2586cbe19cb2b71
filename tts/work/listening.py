"""What a request asks of the listening pass, and what it gets back: word timestamps,
captions and the intelligibility guard's verdict, shaped for replies, streams and jobs.

The pass itself runs in the engine (tts.engine.listen), where the models run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings

from tts.engine import captions as subtitles
from tts.engine.listen import ListenOptions
from tts.observability.metrics import (
    VERIFY_CER,
    VERIFY_CHUNKS,
    VERIFY_RETRIES,
    VOICE_SIMILARITY,
)

#: The request options of the listening pass (they travel with the other options).
OPTION_NAMES = ("timestamps", "captions", "verify", "similarity")


def listen_options(options: Mapping[str, Any]) -> ListenOptions | None:
    """The listening a request asks for (None: none). ``verify`` absent or null means the
    operator's TTS_VERIFY_DEFAULT; captions imply timestamps."""
    verify = options.get("verify")
    if verify is None:
        verify = settings.TTS_VERIFY_DEFAULT
    similarity = options.get("similarity")
    if similarity is None:
        similarity = settings.TTS_SIMILARITY_DEFAULT
    words = bool(options.get("timestamps")) or bool(options.get("captions"))
    if not words and not verify and not similarity:
        return None
    return ListenOptions(words=words, verify=bool(verify), max_cer=settings.TTS_VERIFY_MAX_CER,
                         retries=settings.TTS_VERIFY_RETRIES, similarity=bool(similarity),
                         min_similarity=settings.TTS_VERIFY_MIN_SIMILARITY)


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
                                           "recognised", "failed", "similarity")
               if key in check} for check in checks]
    fields = {"passed": all(check["passed"] for check in chunks),
              "max_cer": settings.TTS_VERIFY_MAX_CER, "retries": settings.TTS_VERIFY_RETRIES,
              "chunks": chunks}
    if settings.TTS_VERIFY_MIN_SIMILARITY:
        fields["min_similarity"] = settings.TTS_VERIFY_MIN_SIMILARITY
    return fields


def joined_similarity(parts: Sequence[tuple[dict | None, int]]) -> dict | None:
    """One similarity report from several streams' (a script's parts, in order, each with
    its chunk count): chunks numbered across the whole, the whole output's score their
    duration-weighted mean (one part: its own)."""
    if all(part is None for part, _ in parts):
        return None
    if len(parts) == 1:
        return parts[0][0]
    chunks, before = [], 0
    for part, count in parts:
        chunks += [{**chunk, "index": before + chunk["index"]}
                   for chunk in (part or {}).get("chunks", [])]
        before += count
    scored = [chunk for chunk in chunks if chunk["similarity"] is not None]
    seconds = sum(chunk["seconds"] for chunk in scored)
    overall = (round(sum(c["similarity"] * c["seconds"] for c in scored) / seconds, 4)
               if seconds else None)
    return {"similarity": overall, "chunks": chunks}


def listening_fields(options: Mapping[str, Any], *, words: list[dict] | None,
                     checks: Sequence[dict] | None, with_captions: bool = True,
                     similarity: dict | None = None) -> dict:
    """The reply's listening fields for what was asked: ``words``, ``captions`` (the file as
    text), ``verification`` and ``similarity``."""
    fields: dict[str, Any] = {}
    listen = listen_options(options)
    if listen is None:
        return fields
    if listen.similarity and similarity is not None:
        fields["similarity"] = similarity
    if listen.words and words is not None:
        fields["words"] = words
        if with_captions and options.get("captions"):
            fields["captions"] = subtitles.render(words, options["captions"])
    if listen.verify and checks is not None:
        fields["verification"] = verification(checks)
    return fields


def count_similarity(model: str, similarity: dict | None) -> None:
    """Each scored chunk's similarity in /metrics."""
    for chunk in (similarity or {}).get("chunks", []):
        if chunk["similarity"] is not None:
            VOICE_SIMILARITY.labels(model=model).observe(chunk["similarity"])


def count_checks(model: str, checks: Sequence[dict] | None,
                 similarity: dict | None = None) -> None:
    """The guard's work in /metrics: each chunk's error rate, retries, and gave-ups; and each
    chunk's similarity to its reference."""
    count_similarity(model, similarity)
    for check in checks or []:
        VERIFY_CER.labels(model=model).observe(check["cer"])
        VERIFY_RETRIES.labels(model=model).inc(check["attempts"] - 1)
        VERIFY_CHUNKS.labels(model=model, passed=str(check["passed"]).lower()).inc()
