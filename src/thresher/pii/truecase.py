"""Case views of text for NER: shouting title-cased, lower-case prose truecased.

spaCy's small English model finds names by their capitals. All-capital text (clinical notes,
logs) and text written without capitals (chat, social media, transcripts) hide them; a view
of the same text with the capitals a reader would expect recovers most of them. Every view
has the input's length, so detections on the view are offsets in the input; views are used
on analysis input only, never on the output.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Protocol

import regex

from thresher.pii.cues import PLACE_CUE

_CAPS_WORD = re.compile(r"\b[A-Z]{2,}\b")
_CAPS_LONG = regex.compile(r"\b\p{Lu}{4,}\b")
_UPPER_RUN = re.compile(r"[A-Z][A-Z'\-]+")
_WORD = regex.compile(r"\p{L}+")
_CODE_CHARS = "=(){}[];_<>\\|`$"
# Where a truecased word may start: text start, after sentence punctuation, at a line start.
_SENTENCE_START = regex.compile(r"(?:^|[.!?:][ \t]+|\n[ \t>*\-]*)(?=\p{L})")
# the word right after these is a name or a place in lower-case chat ("my name is vitoria",
# "we moved here from tunisia")
_NAME_CUE = regex.compile(
    r"(?:\bmy name is|\bname is|\bname:|\bcall me|\bcalls me|\bi am called|\bi'm called)"
    r"[ \t]+"
)
_PLACE_CUE = regex.compile(rf"(?i:\b{PLACE_CUE})[ \t]{{1,2}}")
_NOUNS_AND_ADJECTIVES = ("NN", "NNS", "NNP", "NNPS", "JJ")
# For ASCII text, the bytes that are not letters and those that are not capitals: deleting
# them counts what ``str.isalpha`` and ``str.isupper`` count, at C speed.
_NOT_LETTER = bytes(b for b in range(128) if not chr(b).isalpha())
_NOT_UPPER = bytes(b for b in range(128) if not chr(b).isupper())


class TaggedToken(Protocol):
    """What ``truecase`` reads of a token: spaCy's ``Token`` has it."""

    text: str
    idx: int
    tag_: str
    whitespace_: str


def _title_run(m: Any) -> str:
    return str(m.group(0)[0] + m.group(0)[1:].lower())


def letter_counts(text: str) -> tuple[int, int]:
    """Letters of ``text`` and how many of them are capitals (``str.isalpha``,
    ``str.isupper``).

    >>> letter_counts("PATIENT J. SMITH, 42")
    (13, 13)
    """
    if text.isascii():
        raw = text.encode("ascii")
        return len(raw.translate(None, _NOT_LETTER)), len(raw.translate(None, _NOT_UPPER))
    letters = [c for c in text if c.isalpha()]
    return len(letters), sum(c.isupper() for c in letters)


def restore_case(text: str) -> str | None:
    """Title-case the all-capital words of a mostly-capital text, same length; ``None`` when
    the text is not shouting (or casing would change its length).

    >>> restore_case("PATIENT JOHN SMITH WAS SEEN")
    'Patient John Smith Was Seen'
    """
    letters, upper = letter_counts(text)
    if letters < 8:
        return None
    if upper / letters < 0.7 or len(_CAPS_WORD.findall(text)) < 2:
        return None
    restored = _UPPER_RUN.sub(_title_run, text)
    return restored if len(restored) == len(text) else None


def restore_case_words(text: str) -> str | None:
    """Title-case isolated all-capital words of four or more letters (``flew to LEPPEN``), same
    length; ``None`` when there are none.

    >>> restore_case_words("flew to LEPPEN")
    'flew to Leppen'
    """
    restored = _CAPS_LONG.sub(_title_run, text)
    if restored == text or len(restored) != len(text):
        return None
    return restored


def lowercase_prose(text: str, stop: set[str]) -> bool:
    """A segment written without capitals (chat, social media, transcripts) whose words read
    as English prose, not code: at least four words, no capital letter at all, a fifth or more
    of the words stop words, and few code characters."""
    if any(c.isupper() for c in text):
        return False
    words = _WORD.findall(text)
    if len(words) < 4 or not any(c.isalpha() for c in text):
        return False
    if sum(text.count(c) for c in _CODE_CHARS) * 40 > len(text):
        return False
    return sum(w in stop for w in words) * 5 >= len(words)


def truecase(text: str, doc: Iterable[TaggedToken], stop: set[str]) -> str:
    """Capitals a writer left out, restored from spaCy's tagger on the lower-case text (same
    length, so offsets hold): sentence starts, ``i``, proper nouns (``NNP``/``NNPS``), a noun
    right after a restored proper noun (``patricia desrosiers``), and the word after a name
    or place cue (``my name is vitoria``). ``doc`` is the tagged text (a spaCy ``Doc``)."""
    chars = list(text)
    # offsets where a word follows a name or place cue, and where sentences start: one pass each
    cued = {m.end() for m in _NAME_CUE.finditer(text)}
    cued |= {m.end() for m in _PLACE_CUE.finditer(text)}
    starts = {m.end() for m in _SENTENCE_START.finditer(text)}
    prev = False
    for tok in doc:
        word = tok.text
        content = word.isalpha() and word not in stop
        cue = tok.idx in cued
        proper = content and tok.tag_ in ("NNP", "NNPS")
        follow = prev and (
            (content and tok.tag_ in _NOUNS_AND_ADJECTIVES)
            or (len(word) == 1 and word.isalpha())  # an initial: "benjamin a seiler"
        )
        up = proper or follow or (cue and word.isalpha())
        if up or word == "i" or tok.idx in starts:
            chars[tok.idx] = chars[tok.idx].upper()
        prev = up and tok.whitespace_ == " "
    restored = "".join(chars)
    return restored if len(restored) == len(text) else text
