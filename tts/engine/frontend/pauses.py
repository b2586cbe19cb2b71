"""``[pause:1.5s]`` and ``[pause:500ms]`` tags: exact silences in the text.

Pure Python (the web tier validates tags before any work is queued). A tag ends the chunk
before it; the silence is inserted as it is, with no cross-fade across it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Any bracketed ``pause…``: what is not a valid tag among these is refused, not spoken.
ANY_TAG = re.compile(r"\[\s*pause\b[^\]\[]*\]", re.IGNORECASE)
VALID_TAG = re.compile(r"\[\s*pause\s*:\s*(\d+(?:\.\d+)?|\.\d+)\s*(s|ms)\s*\]", re.IGNORECASE)
MAX_PAUSE_SECONDS = 10.0
MAX_TOTAL_PAUSE_SECONDS = 60.0


class PauseError(ValueError):
    """A malformed tag, or pauses over the limits; the message names the tag."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class Pause:
    seconds: float
    #: The tag as written, and where it stands in the text.
    tag: str
    start: int
    end: int

    def samples(self, sample_rate: int) -> int:
        return round(self.seconds * sample_rate)


def find_pauses(text: str) -> list[Pause]:
    """Every pause tag in ``text``, checked: PauseError names the first bad tag, or says
    that the pauses add up to more than the limit."""
    pauses, total = [], 0.0
    for match in ANY_TAG.finditer(text):
        tag = match[0]
        valid = VALID_TAG.fullmatch(tag)
        if valid is None:
            raise PauseError(
                f"{tag} is not a pause tag; write [pause:1.5s] or [pause:500ms] (seconds or "
                "milliseconds).", code="invalid_pause")
        seconds = float(valid[1]) / (1000 if valid[2].lower() == "ms" else 1)
        if seconds <= 0:
            raise PauseError(f"{tag} is not a pause: give a length above zero.",
                             code="invalid_pause")
        if seconds > MAX_PAUSE_SECONDS:
            raise PauseError(f"{tag} is {seconds:g} s; a pause may be at most "
                             f"{MAX_PAUSE_SECONDS:g} s.", code="pause_too_long")
        total += seconds
        if total > MAX_TOTAL_PAUSE_SECONDS + 1e-9:
            raise PauseError(f"The pauses add up to more than {MAX_TOTAL_PAUSE_SECONDS:g} s at "
                             f"{tag}; use fewer or shorter pauses.", code="pauses_too_long")
        pauses.append(Pause(seconds, tag, match.start(), match.end()))
    return pauses


def split_pauses(text: str) -> list[tuple[str, int] | Pause]:
    """``text`` as stretches of text (with their offset) and pauses, in order."""
    pieces: list[tuple[str, int] | Pause] = []
    position = 0
    for pause in find_pauses(text):
        pieces.append((text[position:pause.start], position))
        pieces.append(pause)
        position = pause.end
    pieces.append((text[position:], position))
    return pieces


def strip_pauses(text: str) -> str:
    """The text without its pause tags (what is left to speak)."""
    return ANY_TAG.sub(" ", text)
