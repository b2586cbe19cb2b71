"""What the model is given, and where each stretch of it came from in the user's text.

A ``SpokenText`` is its text cut into contiguous ``Span``s; each span names the stretch of the
user's text (``source``, as sent in ``gen_text``) that it says. Unchanged stretches map
character for character; a normalised one ("$12.50" → "twelve dollars and fifty cents") maps
as a whole. Captions (word timestamps) use ``source_span`` to report a spoken word once, as
the user wrote it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Span:
    spoken_start: int
    spoken_end: int
    source_start: int
    source_end: int
    #: False where the spoken text is the source text itself.
    changed: bool


@dataclass(frozen=True)
class SpokenText:
    text: str
    spans: tuple[Span, ...]

    def source_span(self, start: int, end: int) -> tuple[int, int]:
        """The user's characters that spoken characters ``start:end`` say: unchanged text maps
        exactly, a stretch inside a normalised span maps to the whole of that span."""
        low, high = None, None
        for span in self.spans:
            outside = span.spoken_end <= start or span.spoken_start >= end
            if outside and not span.spoken_start == span.spoken_end == start:
                continue
            if span.changed:
                a, b = span.source_start, span.source_end
            else:
                a = span.source_start + max(start - span.spoken_start, 0)
                b = span.source_start + min(end, span.spoken_end) - span.spoken_start
            low = a if low is None else min(low, a)
            high = b if high is None else max(high, b)
        if low is None:
            raise ValueError(f"{start}:{end} is outside the spoken text")
        return low, high

    def changes(self) -> list[tuple[tuple[int, int], str]]:
        """Each normalised stretch: (source start, end) and what is said for it."""
        return [((span.source_start, span.source_end),
                 self.text[span.spoken_start:span.spoken_end])
                for span in self.spans if span.changed]


class SpokenBuilder:
    """Builds a SpokenText piece by piece, in source order."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._spans: list[Span] = []
        self._length = 0

    def keep(self, text: str, source_start: int) -> None:
        """Source text said as written."""
        if text:
            self._add(text, source_start, source_start + len(text), changed=False)

    def say(self, spoken: str, source_start: int, source_end: int) -> None:
        """``spoken`` instead of the source characters ``source_start:source_end``."""
        self._add(spoken, source_start, source_end, changed=True)

    def extend(self, other: SpokenText, offset: int = 0) -> None:
        """Append another spoken text whose source starts at ``offset`` of this one's."""
        for span in other.spans:
            piece = other.text[span.spoken_start:span.spoken_end]
            self._add(piece, span.source_start + offset, span.source_end + offset,
                      changed=span.changed)

    def _add(self, text: str, source_start: int, source_end: int, *, changed: bool) -> None:
        if self._spans and not changed and not self._spans[-1].changed \
                and self._spans[-1].source_end == source_start:
            last = self._spans[-1]  # merge neighbouring unchanged stretches
            self._spans[-1] = Span(last.spoken_start, self._length + len(text),
                                   last.source_start, source_end, False)
        else:
            self._spans.append(Span(self._length, self._length + len(text), source_start,
                                    source_end, changed))
        self._parts.append(text)
        self._length += len(text)

    def build(self) -> SpokenText:
        return SpokenText("".join(self._parts), tuple(self._spans))


def identity(text: str, offset: int = 0) -> SpokenText:
    builder = SpokenBuilder()
    builder.keep(text, offset)
    return builder.build()
