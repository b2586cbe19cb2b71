"""Pronunciation lexicon: a word or phrase → how to say it.

A deployment-wide file (``TTS_LEXICON_FILE``, TOML or JSON) and a request's ``pronunciations``
hold the same shape: ``"word" = "how to say it"``, or a table
``"word" = { say = "how to say it", match_case = true }``. Entries match whole words,
case-insensitively unless ``match_case``; longer entries win over shorter ones they overlap;
a request's entry wins over the file's for the same word. They are matched on the text as the
user wrote it, and what they say is not normalised further, so an entry also wins over
normalisation ("F5" = "F five" is never read as "F5" → "F 5").
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError

MAX_WORD_CHARS = 100
MAX_SAY_CHARS = 300
MAX_REQUEST_ENTRIES = 200


class LexiconError(ValueError):
    """An entry that cannot be used; the message names it."""


@dataclass(frozen=True)
class Entry:
    word: str
    say: str
    match_case: bool = False

    @property
    def key(self) -> str:
        return self.word if self.match_case else self.word.casefold()


def parse_entry(word: Any, value: Any) -> Entry:
    """One entry, or LexiconError naming it."""
    if not isinstance(word, str) or not word.strip():
        raise LexiconError("an entry's word is empty")
    label = f"entry {word!r}"
    if len(word) > MAX_WORD_CHARS:
        raise LexiconError(f"{label}: the word is over {MAX_WORD_CHARS} characters")
    if "[" in word or "]" in word:
        raise LexiconError(f"{label}: the word may not hold [ or ] (those are tags)")
    match_case = False
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - {"say", "match_case"})
        if unknown:
            raise LexiconError(f"{label}: unknown key {unknown[0]!r} (the keys are say and "
                               "match_case)")
        match_case = value.get("match_case", False)
        if not isinstance(match_case, bool):
            raise LexiconError(f"{label}: match_case must be true or false")
        value = value.get("say")
    if not isinstance(value, str) or not value.strip():
        raise LexiconError(f"{label}: say how to pronounce it, as a non-empty string "
                           "(\"word\" = \"how to say it\")")
    if len(value) > MAX_SAY_CHARS:
        raise LexiconError(f"{label}: what to say is over {MAX_SAY_CHARS} characters")
    if "[" in value or "]" in value:
        raise LexiconError(f"{label}: what to say may not hold [ or ] (those are tags)")
    return Entry(word.strip(), " ".join(value.split()), match_case)


def parse_entries(data: Any) -> list[Entry]:
    """Every entry of a mapping; LexiconError names the first bad one."""
    if not isinstance(data, Mapping):
        raise LexiconError("it must be an object/table of \"word\" = \"how to say it\"")
    return [parse_entry(word, value) for word, value in data.items()]


class Lexicon:
    """Entries ready to match; ``with_request`` adds a request's (which win)."""

    def __init__(self, entries: list[Entry] | tuple[Entry, ...] = ()):
        merged: dict[str, Entry] = {}
        for entry in entries:
            merged[entry.key] = entry
        self.entries = tuple(merged.values())
        self._by_key = merged
        alternatives = [
            (re.escape(entry.word) if entry.match_case else f"(?i:{re.escape(entry.word)})")
            for entry in sorted(self.entries, key=lambda e: -len(e.word))]
        self._pattern = (re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)")
                         if alternatives else None)

    def __bool__(self) -> bool:
        return bool(self.entries)

    def with_request(self, pronunciations: Mapping[str, Any] | None) -> Lexicon:
        if not pronunciations:
            return self
        request = parse_entries(pronunciations)
        # A request's entry replaces the file's for the same word, whatever case it names.
        words = {entry.word.casefold() for entry in request}
        kept = [entry for entry in self.entries if entry.word.casefold() not in words]
        return Lexicon(kept + request)

    def matches(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, what to say) for each entry found in ``text``, left to right."""
        if self._pattern is None:
            return []
        found = []
        for match in self._pattern.finditer(text):
            word = match[0]
            entry = self._by_key.get(word) or self._by_key.get(word.casefold())
            if entry is not None:
                found.append((match.start(), match.end(), entry.say))
        return found


def load_lexicon(path: str | Path) -> Lexicon:
    """The lexicon file, validated: ConfigurationError names the file and the entry."""
    path = Path(path)
    hint = "; check TTS_LEXICON_FILE"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"Lexicon file {path} cannot be read ({exc.strerror})"
                                 f"{hint}.") from None
    kind = "JSON" if path.suffix == ".json" else "TOML"
    try:
        data = json.loads(text) if kind == "JSON" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"Lexicon file {path} is not valid {kind}: {exc}{hint}.") \
            from None
    try:
        return Lexicon(parse_entries(data))
    except LexiconError as exc:
        raise ConfigurationError(f"Lexicon file {path}: {exc}{hint}.") from None
