"""The text front-end without a model: the normalisation table, the map back to the user's
words, pause tags, the pronunciation lexicon."""

from __future__ import annotations

import pytest

from tests.engine.frontend_cases import (
    CHINESE,
    CHINESE_AS_WRITTEN,
    ENGLISH,
    ENGLISH_AS_WRITTEN,
)
from tts.engine.errors import ConfigurationError
from tts.engine.frontend import (
    Lexicon,
    Pause,
    PauseError,
    find_pauses,
    load_lexicon,
    parse_entries,
    prepare,
)
from tts.engine.frontend.lexicon import LexiconError
from tts.engine.frontend.normalize import language_of, split_sentences


@pytest.mark.parametrize(("written", "spoken"), ENGLISH + ENGLISH_AS_WRITTEN)
def test_english(written, spoken):
    assert prepare(written).spoken_text == spoken


@pytest.mark.parametrize(("written", "spoken"), CHINESE + CHINESE_AS_WRITTEN)
def test_chinese(written, spoken):
    assert prepare(written).spoken_text == spoken


def test_the_table_is_as_large_as_promised():
    assert len(ENGLISH + ENGLISH_AS_WRITTEN) >= 80 and len(CHINESE + CHINESE_AS_WRITTEN) >= 30
    assert len(ENGLISH_AS_WRITTEN) >= 8


@pytest.mark.parametrize("written", [text for text, _ in ENGLISH[:30] + CHINESE[:10]])
def test_off_speaks_the_text_as_written(written):
    assert prepare(written, normalize=False).spoken_text == " ".join(written.split())


def test_sentences_in_other_languages_are_left_alone():
    assert language_of("Il était une fois, à Paris, un café très étroit.") is None
    assert language_of("東京は3時です。") is None  # Japanese: kana
    text = "Il était à Paris le 3 mai, très tôt. It cost $5."
    assert prepare(text).spoken_text == "Il était à Paris le 3 mai, très tôt. It cost five dollars."


def test_mixed_english_and_chinese_are_each_read_in_their_own_language():
    text = "The fee is $12.50. 价格是12.5元。"
    assert prepare(text).spoken_text == ("The fee is twelve dollars and fifty cents. "
                                         "价格是十二点五元。")


def test_sentences_do_not_end_at_abbreviations():
    text = "Dr. Smith met Mr. Jones on Jan. 5, 2024. They talked."
    assert [text[a:b].strip() for a, b in split_sentences(text)] == [
        "Dr. Smith met Mr. Jones on Jan. 5, 2024.", "They talked."]


# --- the map back to the user's words ------------------------------------------------------
def source_of(spoken_text, word_index):
    """The user's words for the spoken word at ``word_index``."""
    import re

    words = list(re.finditer(r"\S+", spoken_text.text))
    match = words[word_index]
    start, end = spoken_text.source_span(match.start(), match.end())
    return start, end


def test_each_spoken_word_maps_back_to_what_the_user_wrote():
    text = "It costs $12.50 on 3/14/2025, said Dr. Smith."
    spoken = prepare(text).pieces[0]
    assert spoken.text == ("It costs twelve dollars and fifty cents on the fourteenth of "
                           "march twenty twenty five, said Doctor Smith.")
    words = spoken.text.split()
    written = {word: text[slice(*source_of(spoken, index))]
               for index, word in enumerate(words)}
    assert written["It"] == "It" and written["costs"] == "costs"
    for word in ("twelve", "dollars", "and", "fifty", "cents"):
        assert written[word] == "$12.50"
    for word in ("fourteenth", "march", "five,"):
        assert written[word].startswith("3/14/2025")
    assert written["Doctor"] == "Dr."
    assert written["Smith."] == "Smith."
    assert spoken.changes()[0] == ((9, 15), "twelve dollars and fifty cents")


def test_spans_cover_the_spoken_text_in_order():
    text = "In 1984 we paid £3.99 for 2 kg of 50% cocoa, 共有1,000人。"
    for piece in prepare(text).pieces:
        spans = piece.spans
        assert spans[0].spoken_start == 0 and spans[-1].spoken_end == len(piece.text)
        for before, after in zip(spans, spans[1:], strict=False):
            assert before.spoken_end == after.spoken_start
            assert before.source_end <= after.source_start
        for span in spans:
            if not span.changed:
                assert (piece.text[span.spoken_start:span.spoken_end]
                        == text[span.source_start:span.source_end])


def test_positions_are_those_of_the_whole_text_across_pauses():
    text = "Wait [pause:1s] for $5."
    front = prepare(text)
    spoken = front.pieces[2]
    start = spoken.text.index("five")
    assert text[slice(*spoken.source_span(start, start + 4))] == "$5"


# --- pauses ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("tag", "seconds"), [
    ("[pause:1.5s]", 1.5), ("[pause:500ms]", 0.5), ("[PAUSE: 2 s]", 2.0), ("[pause:.25s]", 0.25),
    ("[pause:10s]", 10.0), ("[pause:10000ms]", 10.0)])
def test_pause_tags(tag, seconds):
    [pause] = find_pauses(f"One. {tag} Two.")
    assert pause.seconds == pytest.approx(seconds) and pause.tag == tag
    assert pause.samples(24_000) == round(seconds * 24_000)


@pytest.mark.parametrize(("text", "code", "named"), [
    ("Hi [pause:1.5] there", "invalid_pause", "[pause:1.5]"),
    ("Hi [pause] there", "invalid_pause", "[pause]"),
    ("Hi [pause:2min] there", "invalid_pause", "[pause:2min]"),
    ("Hi [pause:0s] there", "invalid_pause", "[pause:0s]"),
    ("Hi [pause:-1s] there", "invalid_pause", "[pause:-1s]"),
    ("Hi [pause:10.5s] there", "pause_too_long", "[pause:10.5s]"),
    ("Hi [pause:20000ms] there", "pause_too_long", "[pause:20000ms]"),
    ("A" + " [pause:9s] x" * 6 + " [pause:7s] end", "pauses_too_long", "[pause:7s]"),
])
def test_bad_pause_tags_are_named(text, code, named):
    with pytest.raises(PauseError) as caught:
        find_pauses(text)
    assert caught.value.code == code and named in caught.value.message


def test_a_pause_cuts_the_text_and_is_not_normalised():
    front = prepare("It costs $5.[pause:500ms]Then $6.")
    kinds = [type(piece).__name__ for piece in front.pieces]
    assert kinds == ["SpokenText", "Pause", "SpokenText"]
    assert isinstance(front.pieces[1], Pause) and front.pieces[1].seconds == 0.5
    assert front.spoken_text == "It costs five dollars. [pause:0.5s] Then six dollars."


# --- the lexicon -------------------------------------------------------------------------------
def test_lexicon_entries_are_whole_words_and_case_insensitive_unless_marked():
    lexicon = Lexicon(parse_entries({"nginx": "engine x", "US": {"say": "U S",
                                                                  "match_case": True},
                                     "New York": "new york city"}))
    said = prepare("Nginx runs in the US, not with us, in new york. nginxes too.",
                   lexicon=lexicon).spoken_text
    assert said == ("engine x runs in the U S, not with us, in new york city. nginxes too.")


def test_lexicon_wins_over_normalisation_and_is_applied_even_when_off():
    lexicon = Lexicon(parse_entries({"F5": "F five", "$5": "a fiver"}))
    assert prepare("F5 costs $5.", lexicon=lexicon).spoken_text == "F five costs $5."[:0] + \
        "F five costs a fiver."
    assert prepare("F5 costs $5.", lexicon=lexicon, normalize=False).spoken_text == \
        "F five costs a fiver."


def test_request_entries_win_over_the_file(tmp_path):
    path = tmp_path / "lexicon.toml"
    path.write_text('nginx = "engine x"\nSQL = "sequel"\n', encoding="utf-8")
    lexicon = load_lexicon(path).with_request({"NGINX": "en jinx"})
    assert prepare("nginx and SQL", lexicon=lexicon).spoken_text == "en jinx and sequel"


def test_a_json_lexicon_file(tmp_path):
    path = tmp_path / "lexicon.json"
    path.write_text('{"Kubernetes": "koo ber net ees", "k8s": {"say": "kates"}}',
                    encoding="utf-8")
    assert prepare("k8s is Kubernetes", lexicon=load_lexicon(path)).spoken_text == \
        "kates is koo ber net ees"


@pytest.mark.parametrize(("content", "suffix", "named"), [
    ('nginx = ""\n', ".toml", "entry 'nginx'"),
    ('nginx = 5\n', ".toml", "entry 'nginx'"),
    ('nginx = { say = "engine x", match_cse = true }\n', ".toml", "match_cse"),
    ('"a[b" = "x"\n', ".toml", "entry 'a[b'"),
    ('nginx = "engine x\n', ".toml", "not valid TOML"),
    ('["nginx"]', ".json", "object/table"),
])
def test_a_bad_lexicon_file_is_refused_naming_the_entry(tmp_path, content, suffix, named):
    path = tmp_path / f"lexicon{suffix}"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        load_lexicon(path)
    assert named in caught.value.message and str(path) in caught.value.message


def test_bad_request_entries_are_named():
    with pytest.raises(LexiconError, match="entry 'SQL'"):
        parse_entries({"SQL": {"sound": "sequel"}})
