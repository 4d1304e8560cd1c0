"""Table tests of the case views NER reads (``thresher.pii.truecase``)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from thresher.pii.truecase import (
    letter_counts,
    lowercase_prose,
    restore_case,
    restore_case_words,
    truecase,
)

STOP = {"i", "a", "the", "is", "my", "with", "in", "of", "we", "here", "from", "and", "to", "up"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PATIENT JOHN SMITH WAS SEEN", "Patient John Smith Was Seen"),
        ("SEEN BY DR O'NEIL-SMITH TODAY", "Seen By Dr O'neil-smith Today"),
        ("PATIENT JOHN SMITH, 54, seen", "Patient John Smith, 54, seen"),  # mostly capitals
        ("Patient John Smith was seen today", None),  # not shouting
        ("OK", None),  # too few letters
        ("ABCDEFGHIJ", None),  # one capital word only
        ("NASA and ESA work with many other agencies", None),  # mostly lower case
    ],
)
def test_restore_case(text, expected):
    assert restore_case(text) == expected


def _counted_one_by_one(text: str) -> tuple[int, int]:
    letters = [c for c in text if c.isalpha()]
    return len(letters), sum(c.isupper() for c in letters)


@given(st.text(max_size=60) | st.text(st.characters(max_codepoint=127), max_size=60))
def test_letter_counts_are_isalpha_and_isupper(text):
    assert letter_counts(text) == _counted_one_by_one(text)


def test_letter_counts_on_every_ascii_character_and_beyond():
    every = "".join(map(chr, range(128)))
    assert letter_counts(every) == _counted_one_by_one(every) == (52, 26)
    mixed = every + "ÉéǅⅠⓐßİ"  # capitals, a title-case letter, numerals and symbols with case
    assert letter_counts(mixed) == _counted_one_by_one(mixed)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("flew to LEPPEN today", "flew to Leppen today"),
        ("met JOHN and MARY", "met John and Mary"),
        ("use the API over SSH", None),  # three letters or fewer stay
        ("nothing shouted here", None),
    ],
)
def test_restore_case_words(text, expected):
    assert restore_case_words(text) == expected


@given(st.text(alphabet="ABCDEZÄÖ'- .abcx\n", max_size=80))
def test_case_views_keep_length(text):
    for view in (restore_case(text), restore_case_words(text)):
        assert view is None or len(view) == len(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("we moved here from tunisia last year", True),
        ("my name is vitoria and i live in porto", True),
        ("We moved here from Tunisia last year", False),  # has capitals
        ("ok thanks", False),  # fewer than four words
        ("for (i = 0; i < n; i++) { total += x[i]; }", False),  # code
        ("apples pears plums cherries", False),  # no stop words: a list, not prose
        ("12 34 56 78 90", False),  # no letters
    ],
)
def test_lowercase_prose(text, expected):
    assert lowercase_prose(text, STOP) is expected


@dataclass
class Tok:
    """What truecase reads of a spaCy token (its tag from spaCy's tagger)."""

    text: str
    idx: int
    tag_: str
    whitespace_: str = " "


def _tokens(text, tags):
    out, pos = [], 0
    for word, tag in zip(text.split(" "), tags, strict=True):
        out.append(Tok(word, pos, tag))
        pos += len(word) + 1
    out[-1].whitespace_ = ""
    return out


@pytest.mark.parametrize(
    ("text", "tags", "expected"),
    [
        # sentence start, a proper noun and the noun right after it
        (
            "follow up with patricia desrosiers",
            ["VB", "RP", "IN", "NNP", "NNS"],
            "Follow up with Patricia Desrosiers",
        ),
        # the word after a name cue, whatever its tag; and "i"
        (
            "my name is vitoria i think",
            ["PRP$", "NN", "VBZ", "VB", "PRP", "VBP"],
            "My name is Vitoria I think",
        ),
        # the word after a place cue
        (
            "we moved here from tunisia",
            ["PRP", "VBD", "RB", "IN", "NN"],
            "We moved here from Tunisia",
        ),
        # an initial after a restored name
        ("see benjamin a seiler", ["VB", "NNP", "DT", "NN"], "See Benjamin A Seiler"),
        # common nouns stay lower case: nothing but the sentence start changes
        ("the cat sat on the mat", ["DT", "NN", "VBD", "IN", "DT", "NN"], "The cat sat on the mat"),
    ],
)
def test_truecase(text, tags, expected):
    assert truecase(text, _tokens(text, tags), STOP) == expected
