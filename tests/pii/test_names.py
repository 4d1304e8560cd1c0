"""Table tests of name recall around NER (``thresher.pii.names``)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from thresher.pii.names import (
    could_hold_name,
    join_name_parts,
    mailing_label_names,
    name_like_spans,
    propagate_person_lists,
    propagate_person_mentions,
)
from thresher.pii.operators import Detection as D

STOP = {"the", "it", "is", "what", "then", "we", "use", "and", "or", "a", "hill"}


def _person(text, value, score=0.85, entity_type="PERSON"):
    s = text.index(value)
    return D(s, s + len(value), entity_type, score)


def _added(text, before, after):
    return [(d.entity_type, text[d.start : d.end], d.score) for d in after if d not in before]


@pytest.mark.parametrize(
    ("segment", "expected"),
    [
        ("then Anna called", True),
        ("Zoë wrote", True),
        ("user=PETER NOVAK logged in", True),  # two capital words in a row
        ("it is what it is", False),
        ("The", False),  # a stop word
        ("the build uses HTTP and the PR API", False),  # acronyms
        ("via PyPI and MinHashLSH", False),  # code-like mixed case
        ("LanguageDetectorBuilder_2 and X2", False),  # digits, underscores
        ("flew to LEPPEN today", False),  # an isolated capital word
        ("mail a@B.org or ./Foo", False),  # not at a word start
    ],
)
def test_could_hold_name(segment, expected):
    assert could_hold_name(segment, STOP) is expected


@pytest.mark.parametrize(
    ("text", "seed", "added"),
    [
        ("Founders: Eklund, Michael and Hodge.", "Eklund", ["Michael", "Hodge"]),
        ("Mary or Joan came", "Joan", ["Mary"]),
        ("Ann & Bob", "Ann", ["Bob"]),
        ("Ann, and the rest", "Ann", []),  # a stop word is not a name
        ("Ann met Bob", "Ann", []),  # not a list
        ("Dr. Samuel Okafor, Pager #4471", "Samuel Okafor", []),  # a field label, not a name
        ("Thanks, Dana Whitfield.", "Dana Whitfield", []),  # a greeting, not a name
        ("Hello, Ann and Bob", "Ann", ["Bob"]),
    ],
)
def test_propagate_person_lists(text, seed, added):
    dets = [_person(text, seed)]
    out = propagate_person_lists(text, dets, STOP)
    assert _added(text, dets, out) == [("PERSON", w, 0.5) for w in added]


@pytest.mark.parametrize(
    ("text", "dets", "added"),
    [
        (
            "directed by Maciej Borkowski and starring Borkowski",
            [("Maciej Borkowski", "PERSON", 0.85)],
            [("PERSON", "Borkowski", 0.5)],
        ),
        # possessives and other cases of the part
        ("Ann Lee met Lee's dog", [("Ann Lee", "PERSON", 0.85)], [("PERSON", "Lee", 0.5)]),
        ("Ann Li met Li", [("Ann Li", "PERSON", 0.85)], []),  # parts of three letters or more
        ("Ann Leeds met leeds", [("Ann Leeds", "PERSON", 0.85)], []),  # case must match
        # a weak detection does not propagate, nor a title or stop word
        ("Ann Leeds met Leeds", [("Ann Leeds", "PERSON", 0.45)], []),
        ("Dr Hill said. Hill left", [("Dr Hill", "PERSON", 0.85)], []),
        ("Mrs Smith and Mrs", [("Mrs Smith", "PERSON", 0.85)], []),
    ],
)
def test_propagate_person_mentions(text, dets, added):
    found = [_person(text, v, sc, t) for v, t, sc in dets]
    assert _added(text, found, propagate_person_mentions(text, found, STOP)) == added


def test_a_mention_taken_for_a_place_becomes_the_person():
    text = "Sigrid Aantje wrote; Aantje replied"
    person = _person(text, "Sigrid Aantje")
    place = D(text.rindex("Aantje"), len(text) - len(" replied"), "LOCATION", 0.85)
    out = propagate_person_mentions(text, [person, place], STOP)
    assert out == [person, D(place.start, place.end, "PERSON", 0.85)]


LABEL = "> Marta Palermo\n> Cityscan\n> 1072 Pohlstrasse 9\n> Suite 858"


@pytest.mark.parametrize(
    ("text", "address", "names"),
    [
        (LABEL, "1072 Pohlstrasse 9", ["Marta Palermo"]),
        # an organisation word is not a name; a one-word line is not a name line
        ("Acme Holdings\nCityscan\n12 High St", "12 High St", []),
        # the address must start its line
        ("Marta Palermo\nShip to 12 High St", "12 High St", []),
        # an address without digits is not a street address
        ("Marta Palermo\nHigh Street", "High Street", []),
        # only the four non-empty lines above count
        ("Marta Palermo\na\nb\nc\nd\n12 High St", "12 High St", []),
    ],
)
def test_mailing_label_names(text, address, names):
    dets = [_person(text, address, 0.7, "LOCATION")]
    assert _added(text, dets, mailing_label_names(text, dets)) == [
        ("PERSON", n, 0.5) for n in names
    ]


@dataclass
class Ent:
    """What name_like_spans reads of a spaCy entity span."""

    text: str
    label_: str
    start_char: int = 0

    @property
    def end_char(self):
        return self.start_char + len(self.text)


@pytest.mark.parametrize(
    ("ent", "is_name"),
    [
        (Ent("Sigrid Nyström", "ORG"), True),
        (Ent("Zoe J. Young", "PRODUCT"), True),
        (Ent("Anne-Marie Dubois", "FAC"), True),
        (Ent("Acme Holdings", "ORG"), False),  # an organisation word
        (Ent("Sigrid", "ORG"), False),  # one word
        (Ent("Zoe Yo", "ORG"), False),  # a last word of two letters
        (Ent("Sigrid Nyström", "GPE"), False),  # another label: left to Presidio
        (Ent("iPhone Pro", "PRODUCT"), False),  # not name-shaped
    ],
)
def test_name_like_spans(ent, is_name):
    assert name_like_spans([ent]) == ([D(0, len(ent.text), "PERSON", 0.45)] if is_name else [])


@pytest.mark.parametrize(
    ("text", "found", "expected"),
    [
        ("filed by DENNIS T HEALEY on", ["DENNIS", "HEALEY"], ["DENNIS T HEALEY"]),
        ("on behalf of GUILLERMO DE LA VARA.", ["GUILLERMO", "VARA"], ["GUILLERMO DE LA VARA"]),
        ("represented by Steven A Wolvek of", ["Steven A"], ["Steven A Wolvek"]),
        ("Assigned to: BRUCE A. MARKELL | Chapter", ["BRUCE A."], ["BRUCE A. MARKELL"]),
        ("filed by S. WILLIAM MANERA on", ["WILLIAM MANERA"], ["S. WILLIAM MANERA"]),
        ("represented by Arthur J Spector of", ["Arthur"], ["Arthur J Spector"]),
        ("Trustee: Neil F. Luria, Plan", ["F. Luria"], ["Neil F. Luria"]),
        ("seen by Dr A. Okafor today", ["A. Okafor"], ["A. Okafor"]),  # not the title
        ("Ann B. Thanks", ["Ann"], ["Ann"]),
        ("and then A. Smith left", ["A. Smith"], ["A. Smith"]),  # "then" is a stop word
        # not an initial before the name, not joined across a word, no next word to take
        ("in the U.S. William said", ["William"], ["William"]),
        ("Ann and Bob met", ["Ann", "Bob"], ["Ann", "Bob"]),
        ("signed by Anna K. Thanks, all", ["Anna K."], ["Anna K."]),
    ],
)
def test_join_name_parts(text, found, expected):
    dets = [_person(text, value) for value in found] + [D(0, 2, "LOCATION", 0.9)]
    out = join_name_parts(text, dets, STOP)
    assert sorted(text[d.start : d.end] for d in out if d.entity_type == "PERSON") == expected
    assert D(0, 2, "LOCATION", 0.9) in out  # other types pass through
