"""Table tests of span resolution (``thresher.pii.spans``): each false-positive rule with the
case it must leave alone, merging, trimming, and the interval helpers."""

from __future__ import annotations

import pytest

from thresher.pii.operators import Detection as D
from thresher.pii.spans import Spans, blank, merge_same_type, resolve, shift, trim_person


def _at(text, value, entity_type, score=0.9):
    s = text.index(value)
    return D(s, s + len(value), entity_type, score)


def _values(text, dets):
    return [(d.entity_type, text[d.start : d.end]) for d in dets]


EMAIL_TEXT = "mail ann@example.org now"
DSN_TEXT = "dsn mysql://root:pw9x@db.example.org/x"
IP_TEXT = "host 10.1.2.3 up"
NHS_TEXT = "call 401-023-2137 or 9434765919"


@pytest.mark.parametrize(
    ("text", "dets", "expected"),
    [
        # the domain of an e-mail address is not a separate URL ...
        (
            EMAIL_TEXT,
            [
                _at(EMAIL_TEXT, "ann@example.org", "EMAIL_ADDRESS", 1.0),
                _at(EMAIL_TEXT, "example.org", "URL", 0.95),
            ],
            [("EMAIL_ADDRESS", "ann@example.org")],
        ),
        # ... but a URL on its own is kept
        (
            "see example.org",
            [D(4, 15, "URL", 0.5)],
            [("URL", "example.org")],
        ),
        # a credential in a URL is not an e-mail address
        (
            DSN_TEXT,
            [
                _at(DSN_TEXT, "pw9x", "PASSWORD"),
                _at(DSN_TEXT, "root:pw9x@db.example.org", "EMAIL_ADDRESS", 1.0),
            ],
            [("PASSWORD", "pw9x")],
        ),
        # an IP address is not a date, whether or not it was detected as an address
        (
            IP_TEXT,
            [_at(IP_TEXT, "10.1.2.3", "DATE_TIME", 0.95)],
            [],
        ),
        (
            IP_TEXT,
            [
                _at(IP_TEXT, "10.1.2.3", "IP_ADDRESS", 0.6),
                _at(IP_TEXT, "10.1.2", "DATE_TIME", 0.95),
            ],
            [("IP_ADDRESS", "10.1.2.3")],
        ),
        # a real date stays
        ("on 2020-01-02 we", [D(3, 13, "DATE_TIME", 0.85)], [("DATE_TIME", "2020-01-02")]),
        # 10 digits in 3-3-4 groups is a US phone number, not an NHS number; run together it is
        (
            NHS_TEXT,
            [
                _at(NHS_TEXT, "401-023-2137", "UK_NHS", 1.0),
                _at(NHS_TEXT, "9434765919", "UK_NHS", 1.0),
            ],
            [("UK_NHS", "9434765919")],
        ),
        # a person run into an address word loses the word; an ordinary name does not
        (
            "to Barbara Yudina Apt 4",
            [D(3, 21, "PERSON", 0.85)],
            [("PERSON", "Barbara Yudina")],
        ),
        ("to Barbara Yudina now", [D(3, 17, "PERSON", 0.85)], [("PERSON", "Barbara Yudina")]),
        # no address starts inside a phone number, whatever its score; one after it stays
        (
            "602-258-8900 EXT 165 at 12 Elm St",
            [
                D(0, 20, "PHONE_NUMBER", 0.4),
                D(8, 20, "LOCATION", 0.5),
                D(24, 33, "LOCATION", 0.5),
            ],
            [("PHONE_NUMBER", "602-258-8900 EXT 165"), ("LOCATION", "12 Elm St")],
        ),
    ],
)
def test_false_positive_rules(text, dets, expected):
    assert _values(text, resolve(text, dets)) == expected
    assert resolve(text, list(reversed(dets))) == resolve(text, dets)


@pytest.mark.parametrize(
    ("dets", "expected"),
    [
        ([], []),
        # higher score wins
        ([D(0, 10, "PERSON", 0.85), D(5, 12, "LOCATION", 0.9)], [D(5, 12, "LOCATION", 0.9)]),
        # equal scores: the longer span wins, then the earlier one
        ([D(0, 4, "PERSON", 0.5), D(2, 9, "LOCATION", 0.5)], [D(2, 9, "LOCATION", 0.5)]),
        ([D(0, 4, "PERSON", 0.5), D(2, 6, "LOCATION", 0.5)], [D(0, 4, "PERSON", 0.5)]),
        # an inner detection of another type loses to its container whatever the scores
        ([D(0, 12, "LOCATION", 0.5), D(5, 12, "PERSON", 0.9)], [D(0, 12, "LOCATION", 0.5)]),
        # same type overlapping: merged into the union with the higher score
        ([D(0, 6, "URL", 0.5), D(4, 10, "URL", 0.6)], [D(0, 10, "URL", 0.6)]),
        # disjoint detections all stay, sorted by position
        (
            [D(8, 9, "URL", 0.5), D(0, 2, "PERSON", 0.5)],
            [D(0, 2, "PERSON", 0.5), D(8, 9, "URL", 0.5)],
        ),
    ],
)
def test_resolve_keeps_a_non_overlapping_set(dets, expected):
    assert resolve("x" * 20, dets) == expected


@pytest.mark.parametrize(
    ("dets", "unions"),
    [
        ([D(0, 5, "URL", 0.5), D(3, 8, "URL", 0.9)], [(D(0, 8, "URL", 0.9), 2)]),
        (
            [D(0, 5, "URL", 0.5), D(5, 8, "URL", 0.9)],
            [(D(0, 5, "URL", 0.5), 1), (D(5, 8, "URL", 0.9), 1)],
        ),
        # not merged across a detection of another type
        (
            [D(0, 5, "URL", 0.5), D(3, 8, "URL", 0.9), D(6, 7, "PERSON", 0.5)],
            [(D(6, 7, "PERSON", 0.5), 1), (D(0, 5, "URL", 0.5), 1), (D(3, 8, "URL", 0.9), 1)],
        ),
    ],
)
def test_merge_same_type(dets, unions):
    assert [(m, len(parts)) for m, parts in merge_same_type(dets)] == unions


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Barbara Yudina Apt", "Barbara Yudina"),
        ("Glyn Street", "Glyn"),
        ("Anna Lane.", "Anna"),
        ("Anna Smith", "Anna Smith"),
        ("Apt", "Apt"),  # nothing left before the word: kept whole
    ],
)
def test_trim_person(text, expected):
    d = trim_person(text, D(0, len(text), "PERSON", 0.85))
    assert text[d.start : d.end] == expected and d.score == 0.85


def test_span_queries():
    spans = Spans([D(0, 5, "X", 1), D(10, 20, "X", 1)])
    assert spans.overlaps(D(4, 6, "X", 1)) and not spans.overlaps(D(5, 10, "X", 1))
    assert spans.covers(D(12, 15, "X", 1)) and spans.covers(D(10, 20, "X", 1))
    assert not spans.covers(D(4, 11, "X", 1))
    assert spans.strictly_covers(D(12, 15, "X", 1)) and not spans.strictly_covers(D(10, 20, "X", 1))
    assert not Spans([]).overlaps(D(0, 1, "X", 1))


def test_blank_and_shift():
    assert blank("key ABC end", [D(4, 7, "X", 1)]) == "key     end"
    assert blank("abc", []) == "abc"
    assert shift([D(1, 3, "URL", 0.5)], 10) == [D(11, 13, "URL", 0.5)]
