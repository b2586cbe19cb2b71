"""The text front-end: what the model is given for a request's text.

``prepare`` cuts the text at its pause tags, normalises each stretch (numbers, dates, money,
units, symbols; English and Chinese) and applies the pronunciation lexicon. Its result keeps,
for every stretch of spoken text, the user's characters it says (``SpokenText.source_span``),
so that captions can name the words as the user wrote them. No Django, no torch: it runs
where chunking runs, in the process that generates.
"""

from __future__ import annotations

from dataclasses import dataclass

from .lexicon import Entry, Lexicon, LexiconError, load_lexicon, parse_entries
from .normalize import normalize_text
from .pauses import (
    MAX_PAUSE_SECONDS,
    MAX_TOTAL_PAUSE_SECONDS,
    Pause,
    PauseError,
    find_pauses,
    split_pauses,
)
from .spoken import Span, SpokenText

NORMALIZE_MODES = ("auto", "off")

__all__ = ["MAX_PAUSE_SECONDS", "MAX_TOTAL_PAUSE_SECONDS", "NORMALIZE_MODES", "Entry",
           "FrontEnd", "Lexicon", "LexiconError", "Pause", "PauseError", "Span", "SpokenText",
           "find_pauses", "load_lexicon", "parse_entries", "prepare"]


@dataclass(frozen=True)
class FrontEnd:
    """A request's text, ready to chunk: spoken stretches and pauses, in order."""

    source: str
    pieces: tuple[SpokenText | Pause, ...]

    @property
    def spoken_text(self) -> str:
        """What the model is given, pauses shown as tags (the reply's ``spoken_text``)."""
        parts = []
        for piece in self.pieces:
            if isinstance(piece, Pause):
                parts.append(f"[pause:{piece.seconds:g}s]")
            elif piece.text.strip():
                parts.append(" ".join(piece.text.split()))
        return " ".join(parts)


def prepare(text: str, *, normalize: bool = True, lexicon: Lexicon | None = None) -> FrontEnd:
    """``text`` cut at its pauses (PauseError for a bad tag), each stretch normalised (when
    ``normalize``) with the lexicon applied. Source positions are those of ``text``."""
    pieces: list[SpokenText | Pause] = []
    for piece in split_pauses(text):
        if isinstance(piece, Pause):
            pieces.append(piece)
        else:
            stretch, offset = piece
            pieces.append(normalize_text(stretch, enabled=normalize, lexicon=lexicon,
                                         offset=offset))
    return FrontEnd(text, tuple(pieces))
