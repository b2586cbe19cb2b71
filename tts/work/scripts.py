"""Multi-voice scripts: ``[voice-id]`` tags in the text switch to a saved voice from that point
on, as upstream's command line does with ``[name]``; ``[voice-id speed=1.2]`` also sets that
segment's speed. Text before the first tag, and ``[main]``, use the request's own voice.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from tts.engine.frontend.pauses import strip_pauses
from tts.engine.reference import PreparedReference
from tts.engine.synthesis import MAX_SEED, SynthesisParams, SynthesisResult
from tts.models import Voice

from . import voices
from .errors import InvalidInput, NotFound
from .listening import joined_similarity
from .runtime import get_engine

MAIN = "main"
TAG = re.compile(r"\[([A-Za-z0-9][A-Za-z0-9_-]*)(?:\s+speed=([^\]\s]*))?\s*\]")
MIN_SPEED, MAX_SPEED = 0.3, 2.0


@dataclass(frozen=True)
class ScriptSegment:
    voice: str  # a saved voice id, or MAIN
    text: str
    speed: float | None = None


@dataclass(frozen=True)
class SpeechPart:
    """One stretch of text to speak with one reference."""

    voice: str | None  # saved voice id; None for an uploaded clip
    ref: PreparedReference
    text: str
    params: SynthesisParams
    reference_cached: bool


def parse_script(text: str) -> list[ScriptSegment]:
    """Split at tags; blank stretches are dropped. Bad speeds are one error naming them all."""
    segments, bad = [], []
    voice, speed, position = MAIN, None, 0
    for match in TAG.finditer(text):
        segments.append(ScriptSegment(voice, text[position:match.start()].strip(), speed))
        voice, speed, position = match[1], None, match.end()
        if match[2] is not None:
            speed = _speed(match[2])
            if speed is None:
                bad.append(match[0])
    segments.append(ScriptSegment(voice, text[position:].strip(), speed))
    if bad:
        raise InvalidInput(
            f"Bad speed in {', '.join(bad)}: write [voice-id speed=X] with X from {MIN_SPEED} "
            f"to {MAX_SPEED}.", code="invalid_script_speed", attr="gen_text")
    return _pauses_joined([segment for segment in segments if segment.text])


def _pauses_joined(segments: list[ScriptSegment]) -> list[ScriptSegment]:
    """A stretch that holds only pause tags ("[alice] Hi. [pause:2s] [bob] Hello.") needs no
    voice: it joins the part before it (or, first of all, the part after it)."""
    joined: list[ScriptSegment] = []
    waiting = ""
    for segment in segments:
        if _words(segment.text):
            if waiting:
                segment = dataclasses.replace(segment, text=f"{waiting} {segment.text}")
                waiting = ""
            joined.append(segment)
        elif joined:
            joined[-1] = dataclasses.replace(joined[-1],
                                             text=f"{joined[-1].text} {segment.text}")
        else:
            waiting = f"{waiting} {segment.text}".strip()
    if waiting and not joined:
        joined.append(ScriptSegment(MAIN, waiting))
    return joined


def _words(text: str) -> bool:
    return any(char.isalnum() for char in strip_pauses(text))


def starts_with_tag(text: str) -> bool:
    """Whether every word of ``text`` is under a voice tag (no request voice needed)."""
    match = TAG.search(text)
    return (match is not None and not strip_pauses(text[:match.start()]).strip()
            and match[1] != MAIN)


def check_script(gen_text: str, *, tenant: voices.Tenant = voices.ANYONE,
                 voice_keys: Mapping[str, int] | None = None
                 ) -> tuple[list[ScriptSegment], dict[str, Voice]]:
    """The script's segments and the saved voices its tags name, without preparing any
    reference. Unknown tags are one error listing them all. A tag means the voice ``tenant``
    would get by that id (tts.work.voices.voice_get: its own before a shared one); another
    tenant's voice is unknown, exactly as one that does not exist. ``voice_keys``: the voices
    already resolved when the request was admitted (tts.work.voices.voice_by_key)."""
    segments = parse_script(gen_text)
    if not segments:
        raise InvalidInput("gen_text holds voice tags but no words to speak.",
                           code="blank", attr="gen_text")
    tagged = sorted({s.voice for s in segments} - {MAIN})
    found, unknown = {}, []
    for voice_id in tagged:
        try:
            found[voice_id] = (voices.voice_get(voice_id=voice_id, tenant=tenant)
                               if voice_keys is None else
                               voices.voice_by_key(voice_id=voice_id, voice_keys=voice_keys))
        except NotFound:
            unknown.append(voice_id)
    if unknown:
        raise InvalidInput(
            f"Unknown voice{'s' if len(unknown) > 1 else ''} in gen_text: "
            f"{', '.join(f'[{v}]' for v in unknown)}. Tags must name saved voices (GET "
            "/api/tts/voices/), or [main] for the request's own voice.",
            code="unknown_voice", attr="gen_text")
    return segments, found


def resolve_voices(*, voice: str = "", gen_text: str = "",
                   tenant: voices.Tenant = voices.ANYONE) -> dict[str, int]:
    """The saved voices a request names (its ``voice``, its script's tags) as ``tenant``
    means them: id -> Voice.serial, for whichever process runs the request. A 404 for an
    unknown ``voice``, one ``unknown_voice`` error for unknown tags."""
    keys = {}
    if voice:
        keys[voice] = voices.voice_get(voice_id=voice, tenant=tenant).pk
    if is_script(gen_text):
        _, found = check_script(gen_text, tenant=tenant)
        keys.update({voice_id: found_voice.pk for voice_id, found_voice in found.items()})
    return keys


def plan_speech(*, gen_text: str, params: SynthesisParams, ref_audio: bytes | None = None,
                ref_text: str = "", voice: str = "",
                voice_keys: Mapping[str, int] | None = None) -> list[SpeechPart]:
    """Resolve every reference a request needs: its own (an upload or a saved voice) and the
    saved voices its tags name (``voice_keys``: as resolved when admitted). Unknown tags are
    one error listing them all. Several parts share one seed, chosen here when the request
    gave none, so the seed reproduces them."""
    segments, found = check_script(gen_text, voice_keys=voice_keys)
    # The request's own voice, when a part needs it or it was sent (a bad upload is an error
    # even when every word is tagged).
    needs_own = any(segment.voice == MAIN for segment in segments)
    own = (request_reference(ref_audio=ref_audio, ref_text=ref_text, voice=voice,
                             voice_keys=voice_keys)
           if needs_own or voice or ref_audio is not None else None)
    if len(segments) > 1 and params.seed is None:
        params = dataclasses.replace(params, seed=secrets.randbelow(MAX_SEED + 1))
    parts = []
    for segment in segments:
        if segment.voice == MAIN:
            voice_id, (ref, cached) = voice or None, own
        else:
            voice_id = segment.voice
            ref, cached = voices.voice_reference_cached(voice=found[voice_id])
        speed = segment.speed if segment.speed is not None else params.speed
        parts.append(SpeechPart(voice=voice_id, ref=ref, text=segment.text,
                                params=dataclasses.replace(params, speed=speed),
                                reference_cached=cached))
    return parts


def join_results(results: list[SynthesisResult]) -> SynthesisResult:
    """The parts' audio end to end (different speakers: no cross-fade between them)."""
    first = results[0]
    mels = [r.spectrogram for r in results if r.spectrogram is not None]
    return SynthesisResult(
        samples=np.concatenate([r.samples for r in results]), sample_rate=first.sample_rate,
        seed=first.seed, ref_text=first.ref_text, chunks=sum(r.chunks for r in results),
        spectrogram=np.concatenate(mels, axis=1) if len(mels) == len(results) else None,
        timings=sum_timings([r.timings for r in results]),
        checks=None if all(r.checks is None for r in results) else _renumbered(results),
        similarity=joined_similarity([(r.similarity, r.chunks) for r in results]))


def _renumbered(results: list[SynthesisResult]) -> list[dict]:
    """The parts' chunk verdicts, numbered across the whole script."""
    checks, before = [], 0
    for result in results:
        checks += [{**check, "index": before + check["index"]} for check in result.checks or []]
        before += result.chunks
    return checks


def part_segments(parts: list[SpeechPart], seconds: list[float]) -> list[dict]:
    """Where each part sits in the joined audio, given each part's length in seconds."""
    segments, start = [], 0.0
    for part, length in zip(parts, seconds, strict=True):
        segments.append({"voice": part.voice, "text": part.text, "start": round(start, 3),
                         "end": round(start + length, 3)})
        start += length
    return segments


def sum_timings(timings: list[dict]) -> dict:
    return {name: sum(t.get(name, 0.0) for t in timings) for name in timings[0]}


def is_script(text: str) -> bool:
    """Whether ``text`` holds voice tags."""
    return TAG.search(text) is not None


def request_reference(*, ref_audio: bytes | None, ref_text: str = "", voice: str = "",
                      voice_keys: Mapping[str, int] | None = None
                      ) -> tuple[PreparedReference, bool]:
    """The request's own reference (a saved voice, as resolved when admitted, or an upload
    prepared as generate does) and whether it was cached."""
    if voice:
        return voices.voice_reference_cached(
            voice=voices.voice_by_key(voice_id=voice, voice_keys=voice_keys))
    if ref_audio is not None:
        ref, cached = get_engine().prepare_reference(ref_audio, ref_text)
        voices.check_reference_report(ref)
        return ref, cached
    raise InvalidInput(
        "Send ref_audio (with its ref_text) or voice (a saved voice id), or start gen_text "
        "with a [voice-id] tag.", code="required", attr="ref_audio")


def _speed(value: str) -> float | None:
    try:
        speed = float(value)
    except ValueError:
        return None
    return speed if MIN_SPEED <= speed <= MAX_SPEED else None
