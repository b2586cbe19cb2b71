"""Subtitles from timed words: SubRip (.srt) and WebVTT (.vtt).

Conventions of subtitle editors and broadcasters: at most 42 characters a line and two lines a
cue, a cue on screen at most ~7 s, cues ending at the end of a sentence, else at a clause
(comma, semicolon, colon, dash) once the cue is reasonably full, and a change of speaker
always starting a new cue (WebVTT names the speaker with a ``<v>`` tag).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

LINE_CHARS = 42
LINES = 2
MAX_CUE_SECONDS = 7.0
#: A cue is shown at least this long (when the next one leaves room).
MIN_CUE_SECONDS = 0.7
FORMATS = ("srt", "vtt")

_SENTENCE_END = (".", "!", "?", "…", "。", "！", "？")
_CLAUSE_END = (",", ";", ":", "—", "–", "，", "；", "：")
_CLOSERS = "\"'”’)]}»"


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    lines: list[str]
    voice: str | None = None


def _field(word, name: str):
    return word[name] if isinstance(word, Mapping) else getattr(word, name)


def cues(words: Iterable) -> list[Cue]:
    """Group timed words (``{word, start, end[, voice]}`` dicts or objects) into cues."""
    groups: list[list] = []
    current: list = []
    for word in words:
        text = str(_field(word, "word"))
        if current:
            voice_changes = _voice(word) != _voice(current[0])
            candidate = " ".join(str(_field(w, "word")) for w in current) + " " + text
            too_long = len(candidate) > LINE_CHARS * LINES or len(_lines(candidate)) > LINES
            too_slow = float(_field(word, "end")) - float(_field(current[0], "start")) \
                > MAX_CUE_SECONDS
            if voice_changes or too_long or too_slow:
                groups.append(current)
                current = []
        current.append(word)
        if _ends(text, _SENTENCE_END) or (_ends(text, _CLAUSE_END) and _full_enough(current)):
            groups.append(current)
            current = []
    if current:
        groups.append(current)
    result: list[Cue] = []
    for group in groups:
        text = " ".join(str(_field(w, "word")) for w in group)
        result.append(Cue(start=float(_field(group[0], "start")),
                          end=float(_field(group[-1], "end")), lines=_lines(text),
                          voice=_voice(group[0])))
    return _spaced(result)


def _voice(word) -> str | None:
    try:
        return _field(word, "voice")
    except (KeyError, AttributeError):
        return None


def _ends(word: str, marks: Sequence[str]) -> bool:
    return word.rstrip(_CLOSERS).endswith(tuple(marks))


def _full_enough(group: list) -> bool:
    """A clause end closes a cue once the cue holds a line's worth of text or half its time."""
    chars = len(" ".join(str(_field(w, "word")) for w in group))
    seconds = float(_field(group[-1], "end")) - float(_field(group[0], "start"))
    return chars >= LINE_CHARS or seconds >= MAX_CUE_SECONDS / 2


def _lines(text: str) -> list[str]:
    """``text`` in lines of at most LINE_CHARS (a longer single word stays whole), the break
    placed to balance two lines, preferring a break after punctuation."""
    if len(text) <= LINE_CHARS:
        return [text]
    words = text.split()
    best: tuple[float, list[str]] | None = None
    for cut in range(1, len(words)):
        first, second = " ".join(words[:cut]), " ".join(words[cut:])
        if len(first) > LINE_CHARS:
            break
        over = max(len(second) - LINE_CHARS, 0)
        score = over * 100 + abs(len(first) - len(second)) - (
            8 if _ends(words[cut - 1], _SENTENCE_END + _CLAUSE_END) else 0)
        if best is None or score < best[0]:
            best = (score, [first, second])
    if best is None:
        return [text]
    first, second = best[1]
    return [first] + _lines(second) if len(second) > LINE_CHARS else [first, second]


def _spaced(result: list[Cue]) -> list[Cue]:
    """Cues that never overlap, each shown a little while when there is room."""
    fixed: list[Cue] = []
    for index, cue in enumerate(result):
        start = max(cue.start, fixed[-1].end if fixed else 0.0)
        limit = result[index + 1].start if index + 1 < len(result) else None
        end = max(cue.end, start + MIN_CUE_SECONDS)
        if limit is not None:
            end = min(end, max(limit, start + 0.001))
        end = max(end, start + 0.001)
        fixed.append(Cue(start, end, cue.lines, cue.voice))
    return fixed


def _timestamp(seconds: float, separator: str) -> str:
    millis = int(round(max(seconds, 0.0) * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def to_srt(words: Iterable) -> str:
    blocks = []
    for number, cue in enumerate(cues(words), 1):
        blocks.append(f"{number}\n{_timestamp(cue.start, ',')} --> "
                      f"{_timestamp(cue.end, ',')}\n" + "\n".join(cue.lines) + "\n")
    return "\n".join(blocks)


def to_vtt(words: Iterable) -> str:
    blocks = ["WEBVTT\n"]
    for number, cue in enumerate(cues(words), 1):
        lines = list(cue.lines)
        if cue.voice:
            lines[0] = f"<v {_escape(cue.voice)}>{_escape(lines[0])}"
            lines[1:] = [_escape(line) for line in lines[1:]]
        else:
            lines = [_escape(line) for line in lines]
        blocks.append(f"{number}\n{_timestamp(cue.start, '.')} --> "
                      f"{_timestamp(cue.end, '.')}\n" + "\n".join(lines) + "\n")
    return "\n".join(blocks)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render(words: Iterable, fmt: str) -> str:
    """The subtitle file for ``words`` in ``fmt`` (``srt`` or ``vtt``)."""
    if fmt == "srt":
        return to_srt(words)
    if fmt == "vtt":
        return to_vtt(words)
    raise ValueError(f"unknown caption format {fmt!r}; use one of {', '.join(FORMATS)}")
