"""Table tests of analysis segments and sentence runs (``thresher.pii.segments``)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from thresher.pii.segments import segments, sentence_runs


def _texts(text, spans):
    return [text[s:e] for s, e in spans]


@pytest.mark.parametrize(
    ("text", "max_chars", "expected"),
    [
        ("", 100, []),
        ("   \n\n \t\n\n", 100, []),  # blank paragraphs are not segments
        ("one para", 100, ["one para"]),
        ("one\n\ntwo", 100, ["one", "two"]),
        ("one\n \t\ntwo\n\n\nthree", 100, ["one", "two", "\nthree"]),
        ("line one\nline two", 100, ["line one\nline two"]),  # a single newline does not cut
        # long paragraphs: cut after the last newline in the window
        ("aaaa aaaa\nbbbb bbbb\ncccc", 12, ["aaaa aaaa\n", "bbbb bbbb\n", "cccc"]),
        # one huge line: cut after the last space
        ("aaaa bbbb cccc dddd", 10, ["aaaa bbbb ", "cccc dddd"]),
        # no break in the first quarter or later: a hard cut at max_chars
        ("x" * 25, 10, ["x" * 10, "x" * 10, "x" * 5]),
    ],
)
def test_segments(text, max_chars, expected):
    assert _texts(text, segments(text, max_chars=max_chars)) == expected


@given(st.text(alphabet="ab .\n\t", max_size=300), st.integers(8, 60))
def test_segments_are_ordered_bounded_and_lose_no_content(text, max_chars):
    spans = segments(text, max_chars=max_chars)
    assert all(0 <= s < e <= len(text) and e - s <= max_chars for s, e in spans)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
    # every non-blank character lies in some segment
    covered = {i for s, e in spans for i in range(s, e)}
    assert all(i in covered for i, c in enumerate(text) if not c.isspace())


def _capital(sentence: str) -> bool:
    return any(c.isupper() for c in sentence)


@pytest.mark.parametrize(
    ("segment", "view", "expected"),
    [
        ("", None, []),
        ("all lower. still lower.", None, []),
        ("Ann came. Bob left.", None, ["Ann came. Bob left."]),  # neighbours join one run
        ("Ann came. it rained. Bob left.", None, ["Ann came.", " Bob left."]),
        ("first line\nSecond line\nthird", None, ["Second line"]),
        ("Ann came!\nBob left?", None, ["Ann came!\nBob left?"]),
        # judged on the view, cut from the segment
        ("ANN CAME. IT RAINED.", "Ann came. it rained.", ["ANN CAME."]),
        ("e.g. lower", None, []),  # "e.g." does not end a sentence and holds no capital
    ],
)
def test_sentence_runs(segment, view, expected):
    assert _texts(segment, sentence_runs(segment, _capital, view)) == expected
