"""Normalisation: numbers, dates, money, units and symbols written out as they are said.

English and Chinese go through WeTextProcessing's grammars (the ``wetext`` runtime: the
grammars compiled to FSTs, run with kaldifst, no pynini), English after the rules of
``english.py``. Text is taken sentence by sentence, each in its own language (Chinese where it
holds Chinese characters, English where it is plain Latin script); sentences in other
languages, and every sentence with ``enabled`` off, are left as written. Lexicon entries are
matched first, on the user's text, and said as given.
"""

from __future__ import annotations

import logging
import re
import threading
from difflib import SequenceMatcher
from typing import Any

from .english import AS_WRITTEN, BEFORE_DEFER, DEFER, RULES
from .lexicon import Lexicon
from .spoken import SpokenBuilder, SpokenText

logger = logging.getLogger(__name__)

LANGUAGES = ("en", "zh")
#: Where a sentence may end: after . ! ? (followed by a space and a capital, a digit or a
#: quote), after Chinese stops, or at a line break.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'“‘(\[]?[A-Z0-9\u3400-\u9fff])|(?<=[。！？；])|\n+")
_NOT_AN_END = re.compile(r"(?:\b(?:Mr|Mrs|Ms|Dr|Prof|St|Mt|Jr|Sr|No|vs|etc|Capt|Gen|Lt|Sgt|"
                         r"Col|Gov|Sen|Rep|Rev|Fr|Inc|Ltd|Co|Corp|Apt|Ave|Rd|Blvd|Dept|Fig|"
                         r"approx|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)|"
                         r"\b[A-Z]|\be\.g|\bi\.e)\.$")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA_HANGUL = re.compile(r"[\u3040-\u30ff\uac00-\ud7af]")
#: Worth the grammars' time: digits, symbols they read, dotted initials ("U.S.A.") or a
#: capitalised abbreviation inside a sentence ("Apt. 4", "Mon. night"). Other sentences are
#: said as written without calling them (most of a chapter's).
_ENGLISH_WORK = re.compile(r"[0-9&@%°+=#~×÷½¼¾/]|\bwww\.|\b(?:[A-Za-z]\.){2,}"
                           r"|\b[A-Z][a-z]{1,3}\.(?=\s+\w)")
_CHINESE_WORK = re.compile(r"[0-9%°℃‰~×÷]")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence, covering ``text`` (the gaps between go to the next)."""
    bounds, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        if _NOT_AN_END.search(text[start:match.start()]):
            continue
        end = match.end()
        if end > start:
            bounds.append((start, end))
            start = end
    if start < len(text):
        bounds.append((start, len(text)))
    return bounds


def language_of(sentence: str) -> str | None:
    """``zh`` (Chinese characters, no kana), ``en`` (Latin letters, at most a few of them
    accented), or None: a language the grammars do not cover."""
    if _KANA_HANGUL.search(sentence):
        return None
    if _CJK.search(sentence):
        return "zh"
    letters = [char for char in sentence if char.isalpha()]
    foreign = sum(1 for char in letters if not char.isascii())
    if foreign > max(1, len(letters) // 20):
        return None
    return "en"


class _Grammars:
    """WeTextProcessing's normalisers, loaded once per process on first use (about 0.5 s)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._normalizers: dict[str, Any] = {}

    def normalize(self, text: str, lang: str) -> str:
        normalizer = self._normalizers.get(lang)
        if normalizer is None:
            with self._lock:
                if lang not in self._normalizers:
                    from wetext import Normalizer  # deferred: loads the FSTs

                    self._normalizers[lang] = Normalizer(lang=lang, operator="tn")
                normalizer = self._normalizers[lang]
        return normalizer.normalize(text)


GRAMMARS = _Grammars()


def grammar_text(text: str, lang: str) -> str:
    """The grammars' reading of ``text``; a word they fail on is left as written (their
    tokenizer rejects a few inputs, such as a lone "≈5")."""
    try:
        return GRAMMARS.normalize(text, lang)
    except Exception:  # noqa: BLE001 - a stretch it cannot read is said as written
        if " " not in text.strip():
            logger.debug("normalisation left %r as written", text)
            return text
        return " ".join(grammar_text(word, lang) for word in text.split())


def _say_diff(builder: SpokenBuilder, source: str, spoken: str, offset: int) -> None:
    """Map the grammars' output back to the source, word by word: words they left alone
    map exactly, each changed run of words to the source words it replaces."""
    src = [(m.start(), m.end()) for m in re.finditer(r"\S+", source)]
    out = [(m.start(), m.end()) for m in re.finditer(r"\S+", spoken)]
    matcher = SequenceMatcher(None, [source[a:b] for a, b in src],
                              [spoken[a:b] for a, b in out], autojunk=False)
    position = 0  # the source's characters emitted so far
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            for (a, b) in src[i1:i2]:
                if a > position:
                    builder.keep(" " if position else source[position:a], offset + position)
                builder.keep(source[a:b], offset + a)
                position = b
            continue
        start = src[i1][0] if i1 < i2 else position
        end = src[i2 - 1][1] if i1 < i2 else position
        words = " ".join(spoken[a:b] for a, b in out[j1:j2])
        if words:
            if start > position:
                builder.keep(" " if position else source[position:start], offset + position)
            elif position and start == position:
                builder.say(" ", offset + position, offset + position)
            builder.say(words, offset + start, offset + end)
        position = max(position, end)
    if position < len(source):
        builder.keep(source[position:], offset + position)


#: Context given to the grammars around what they have to read in English: words on each
#: side. Their cost grows with the length of what they are given, and a date, an amount or a
#: time needs only its neighbours.
_CONTEXT_WORDS = 3


def _windows(text: str, work: re.Pattern[str], lang: str) -> list[tuple[int, int]]:
    """Stretches of ``text`` (merged when they touch) around each thing to read."""
    if lang == "en":
        words = [m.span() for m in re.finditer(r"\S+", text)]
        spans = []
        for index, (start, end) in enumerate(words):
            if work.search(text, start, end) or work.search(text[start:end]):
                low = words[max(index - _CONTEXT_WORDS, 0)][0]
                high = words[min(index + _CONTEXT_WORDS, len(words) - 1)][1]
                spans.append((low, high))
    else:  # Chinese: the whole stretch (the grammars' cost there is mostly per call)
        spans = [(0, len(text))]
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _speak_gap(builder: SpokenBuilder, text: str, offset: int, lang: str | None,
               enabled: bool) -> None:
    work = {"en": _ENGLISH_WORK, "zh": _CHINESE_WORK}.get(lang or "")
    if not enabled or work is None or not text.strip() or not work.search(text):
        builder.keep(text, offset)
        return
    position = 0
    for start, end in _windows(text, work, lang):
        builder.keep(text[position:start], offset + position)
        window = text[start:end]
        spoken = grammar_text(window, lang)
        if spoken == window:
            builder.keep(window, offset + start)
        else:
            _say_diff(builder, window, spoken, offset + start)
        position = end
    builder.keep(text[position:], offset + position)


def _claims(sentence: str, lang: str | None, lexicon: Lexicon | None,
            enabled: bool) -> list[tuple[int, int, str | None]]:
    """Stretches said outright: lexicon entries, then (English) code said as written (None),
    then the rules; none overlapping."""
    taken: list[tuple[int, int, str | None]] = []

    def free(start: int, end: int, spans) -> bool:
        return all(end <= a or start >= b for a, b, *_ in spans)

    for start, end, say in (lexicon.matches(sentence) if lexicon else []):
        if free(start, end, taken):
            taken.append((start, end, say))
    if enabled and lang == "en":
        for match in AS_WRITTEN.finditer(sentence):
            if free(*match.span(), taken):
                taken.append((*match.span(), None))
        deferred = [(m.start(), m.end()) for m in DEFER.finditer(sentence)]
        for index, (pattern, speak) in enumerate(RULES):
            for match in pattern.finditer(sentence):
                start, end = match.span()
                if start == end or not free(start, end, taken):
                    continue
                if index >= BEFORE_DEFER and not free(start, end, deferred):
                    continue
                said = speak(match)
                if said is not None:
                    taken.append((start, end, said))
    return sorted(taken)


def normalize_text(text: str, *, enabled: bool = True, lexicon: Lexicon | None = None,
                   offset: int = 0) -> SpokenText:
    """What to say for ``text`` (no pause tags in it), with its map back to ``text``
    (positions shifted by ``offset``)."""
    builder = SpokenBuilder()
    for s_start, s_end in split_sentences(text):
        sentence = text[s_start:s_end]
        lang = language_of(sentence)
        position = 0
        for start, end, say in _claims(sentence, lang, lexicon, enabled):
            _speak_gap(builder, sentence[position:start], offset + s_start + position, lang,
                       enabled)
            if say is None:  # said as written
                builder.keep(sentence[start:end], offset + s_start + start)
            else:
                _join(builder, sentence, position, start, offset + s_start)
                builder.say(say, offset + s_start + start, offset + s_start + end)
            position = end
        _speak_gap(builder, sentence[position:], offset + s_start + position, lang, enabled)
    return builder.build()


def _join(builder: SpokenBuilder, sentence: str, position: int, start: int,
          offset: int) -> None:
    """A claimed stretch glued to a word ("5km", "$5") still needs a space to be said apart.
    (Nothing to add when the text before it ends in a space.)"""
    if start > 0 and start > position - 1 and not sentence[start - 1].isspace() \
            and sentence[start - 1].isalnum():
        builder.say(" ", offset + start, offset + start)
