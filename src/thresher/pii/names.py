"""Name recall around spaCy's NER: where a name could be, and the names NER leaves out.

- ``could_hold_name``: whether a sentence holds a word that could start a name (NER runs only
  on such sentences);
- ``name_like_spans``: full names spaCy's small model labels ``ORG``/``PRODUCT``/...;
- ``propagate_person_lists``: capitalised words listed with a detected person;
- ``propagate_person_mentions``: the other mentions of a detected name's parts (in the same
  document, or in every turn of a conversation);
- ``mailing_label_names``: the name line of a mailing label above a street address;
- ``join_name_parts``: one name from two detected parts and the initials or particles between
  them (``DENNIS T HEALEY``, ``GUILLERMO DE LA VARA``).

Names added here carry a modest score, so a stronger detection of another type still wins in
``spans.resolve``. Plain functions over text and ``Detection``s (and, for
``name_like_spans``, a spaCy ``Doc``'s entities).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import regex

from thresher.pii.operators import Detection
from thresher.pii.spans import Spans

_CANDIDATE = re.compile(r"(?<![\w@./:])[A-Z][\w'\-]*")
_CAPS_PAIR = regex.compile(r"\b\p{Lu}{3,}(?:[ \t]+\p{Lu}{2,})+\b")

_LIST_SEP = r"(?:,[ \t]*and[ \t]+|,[ \t]*|[ \t]+(?:and|or|&)[ \t]+)"
_LIST_NEXT = regex.compile(_LIST_SEP + r"(\p{Lu}[\p{L}'’\-]+)\b")
_LIST_PREV = regex.compile(r"\b(\p{Lu}[\p{L}'’\-]+)" + _LIST_SEP + "$")
_LIST_SCORE = 0.5

_NAME_PART = regex.compile(r"(?<![\p{L}\-'’])\p{L}+(?:[\-'’]\p{L}+)*")
_MENTION_SCORE = 0.5
_TITLE_WORDS_TEXT = "mr mrs ms miss dr prof sir dame lord lady rev mx jr sr md phd nurse pc dc"
_TITLE_WORDS = frozenset(_TITLE_WORDS_TEXT.split())
# Field labels that follow a name in notes and signatures ("Dr. Samuel Okafor, Pager #4471"):
# listed after a name, they are not names.
_LABEL_WORDS_TEXT = (
    "pager beeper bleep fax phone tel telephone mobile cell ext extension email e-mail mrn dob "
    "ssn address room ward unit bed"
)
_LABEL_WORDS = frozenset(_LABEL_WORDS_TEXT.split())
# Greetings and discourse words that stand before a name with a comma ("Thanks, Dana.",
# "Hello, Mr Reyes"): common in conversations, never a name themselves.
_GREETING_WORDS_TEXT = (
    "thanks thank hello hi hey dear sorry yes no okay ok sure please welcome regards cheers "
    "goodbye bye congratulations congrats great well oh ah absolutely certainly indeed alright "
    "morning afternoon evening night greetings howdy yeah yep nope right note"
)
_NOT_LISTED_NAMES = _LABEL_WORDS | frozenset(_GREETING_WORDS_TEXT.split())

_LABEL_LINE = regex.compile(
    r"^[ \t]*(?:[>•*?\-]{1,3}[ \t]*)?"
    r"((?:\p{Lu}\p{Ll}+|\p{Lu}\.?)"
    r"(?:[ \t](?:\p{Lu}\p{Ll}+(?:[\-'’]\p{Lu}?\p{Ll}+)*|\p{Lu}\.?)){1,2})"
    r"[ \t]*$"
)
_LABEL_BULLETS = " \t>•*?-"
_LABEL_SCORE = 0.5

# spaCy's small model often labels foreign or uncommon full names ORG or PRODUCT ("Sigrid
# Nyström", "Zoe Young"), and Presidio ignores those labels. A two- or three-word span of
# capitalised words with no organisation word in it is taken as a name at a modest score.
_NAME_WORD = regex.compile(r"^(?:\p{Lu}\p{Ll}+(?:[\-'’]\p{Lu}?\p{Ll}+)*|\p{Lu}\.?)$")
_ORG_WORDS_TEXT = (
    "Inc Ltd Llc Corp Corporation Company Co Group Holdings Bank Capital Partners Fund "
    "University College School Institute Academy Hospital Clinic Center Centre Foundation "
    "Association Society Council Committee Ministry Department Agency Office Bureau Board "
    "Services Service Systems Solutions Technologies Technology Tech Labs Software Data "
    "Network Networks Media News Press Records Music Band Orchestra Club Team League Party "
    "Church Airlines Airways Motors Energy Pharma Health Insurance Consulting Studio "
    "Studios Games Bar Cafe Restaurant Hotel Store Shop Market Explorer Care Cloud Web "
    "Digital Global International National Federal State City County Park Street Avenue"
)
ORG_WORDS = frozenset(_ORG_WORDS_TEXT.split())
_NAME_LIKE_LABELS = frozenset({"ORG", "PRODUCT", "WORK_OF_ART", "FAC"})
_NAME_LIKE_SCORE = 0.45


def _could_start_name(word: str, stop: set[str]) -> bool:
    if len(word) < 2 or word.lower() in stop:
        return False
    if any(c.isdigit() or c == "_" for c in word):
        return False
    if word.isupper():
        return False  # an acronym; in all-capital text the restored view is judged
    return sum(c.isupper() for c in word) < 3  # PyPI, MinHashLSH: code, not a name


def could_hold_name(segment: str, stop: set[str]) -> bool:
    """A word that could start a name: capitalised, not a stop word, not all capitals
    (``API``, ``HTTP``; two capital words in a row do count) and not code-like (a digit
    or underscore, or three or more capitals in mixed case: ``PyPI``, ``MinHashLSH``).

    Meant for the case-restored view of all-capital segments, so names in shouted text
    (clinical notes, logs) still count; an isolated all-capital place or name in mixed
    text (``flew to LEPPEN``) is left to the context and title recognizers."""
    if any(_could_start_name(m.group(0), stop) for m in _CANDIDATE.finditer(segment)):
        return True
    # Two or more all-capital words in a row read as a name in mixed text
    # ("user=PETER NOVAK"); a lone acronym does not.
    return bool(_CAPS_PAIR.search(segment))


def _listed_next_to(text: str, d: Detection) -> list[tuple[int, int]]:
    found = []
    m = _LIST_NEXT.match(text, d.end)
    if m:
        found.append((m.start(1), m.end(1)))
    m = _LIST_PREV.search(text, max(0, d.start - 60), d.start)
    if m:
        found.append((m.start(1), m.end(1)))
    return found


def propagate_person_lists(text: str, dets: Sequence[Detection], stop: set[str]) -> list[Detection]:
    """Capitalised words listed with a detected person ("Eklund, Michael and Hodge") are
    people too; added at a modest score, so a stronger detection of another type still wins."""
    out = list(dets)
    # (a listed word taken for something else, "Ariana" as a place, still passes the list on)
    seen = {(d.start, d.end) for d in dets if d.entity_type == "PERSON"}
    frontier = [d for d in dets if d.entity_type == "PERSON"]
    while frontier:
        d = frontier.pop()
        for s, e in _listed_next_to(text, d):
            word = text[s:e].lower()
            if (s, e) in seen or word in stop or word in _NOT_LISTED_NAMES:
                continue
            seen.add((s, e))
            new = Detection(s, e, "PERSON", _LIST_SCORE)
            out.append(new)
            frontier.append(new)
    return out


def _strip_possessive(word: str) -> str:
    return word[:-2] if word[-2:] in ("'s", "’s") else word


# Words the text also writes in lower case ("filed", "order", "motion") are not propagated as
# names; nor are the words of company forms ("LLC", "Inc").
# (a word of prose, between spaces or sentence punctuation: not part of an e-mail address, a
# URL, a handle or a file name, which write names in lower case)
_LOWER_WORD = regex.compile(
    r"(?<![^\s(\"'“‘])\p{Ll}+(?=[\s,;:!?)\"'”’]|\.(?:\s|$)|$)", regex.MULTILINE
)
_COMPANY_FORMS_TEXT = (
    "llc llp pllc plc limited ltd inc corp corporation company group holdings partners associates"
)
_COMPANY_FORMS = frozenset(_COMPANY_FORMS_TEXT.split())


def person_name_parts(text: str, dets: Iterable[Detection], stop: set[str]) -> set[str]:
    """The parts of the detected names worth looking for elsewhere: three letters or more,
    not a stop, title or company-form word, never written in lower case in ``text`` (court
    dockets call a party "Order" or "Filed" once and write "filed" everywhere), from persons
    found with at least the mention score. A
    conversation unites the parts of all its turns (``propagate_person_mentions``'s
    ``parts``)."""
    parts = set()
    lower: set[str] | None = None
    for d in dets:
        if d.entity_type != "PERSON" or d.score < _MENTION_SCORE:
            continue
        for m in _NAME_PART.finditer(text, d.start, d.end):
            w = _strip_possessive(m.group(0))
            low = w.lower()
            if len(w) < 3 or low in stop or low in _TITLE_WORDS or low in _COMPANY_FORMS:
                continue
            if lower is None:
                lower = set(_LOWER_WORD.findall(text))
            if low not in lower:  # written in lower case elsewhere: a word, not a name
                parts.add(w)
    return parts


def propagate_person_mentions(
    text: str, dets: Sequence[Detection], stop: set[str], parts: set[str] | None = None
) -> list[Detection]:
    """A name found once names its other mentions in the same document: ``directed by Maciej
    Borkowski and starring Borkowski``, ``my name is Aantje Mourik but everyone calls me
    Aantje``. Each part (three letters or more, not a stop or title word) of a detected person
    marks its other whole-word, same-case occurrences: where nothing was detected, as
    ``PERSON`` at a modest score; where the same word alone was taken for a place or a
    nationality (spaCy's small model labels many foreign names ``GPE``), it becomes the person.

    ``parts`` (default: those of ``dets``, ``person_name_parts``) widens the unit: in a
    conversation, the parts of the names found in every turn ("My name is Dana Whitfield" in
    one turn names "Thanks, Dana" in the next)."""
    if parts is None:
        parts = person_name_parts(text, dets, stop)
    if not parts:
        return list(dets)
    by_span = {(d.start, d.end): i for i, d in enumerate(dets)}
    covered = Spans(dets)
    out = list(dets)
    for m in _NAME_PART.finditer(text):
        w = _strip_possessive(m.group(0))
        if w not in parts:
            continue
        start, end = m.start(), m.start() + len(w)
        i = by_span.get((start, end))
        if i is not None:
            if out[i].entity_type in ("LOCATION", "NRP"):
                out[i] = Detection(start, end, "PERSON", out[i].score)
            continue
        probe = Detection(start, end, "PERSON", _MENTION_SCORE)
        if not covered.overlaps(probe):
            out.append(probe)
    return out


def _label_names_above(text: str, line_start: int) -> list[Detection]:
    """Name-shaped lines among the four non-empty lines above the line at ``line_start``."""
    found = []
    pos, seen = line_start - 1, 0
    while pos > 0 and seen < 4:
        begin = text.rfind("\n", 0, pos) + 1
        line = text[begin:pos]
        if line.strip(_LABEL_BULLETS):
            seen += 1
            m = _LABEL_LINE.match(line)
            if m and not any(w.strip(".") in ORG_WORDS for w in m.group(1).split()):
                found.append(
                    Detection(begin + m.start(1), begin + m.end(1), "PERSON", _LABEL_SCORE)
                )
        pos = begin - 1
    return found


def mailing_label_names(text: str, dets: Sequence[Detection]) -> list[Detection]:
    """The name on a mailing label: a line of two or three name-shaped words (no organisation
    word) among the four non-empty lines above a street address (``Marta Palermo`` /
    ``Cityscan`` / ``1072 Pohlstrasse 9`` / ...). Added as ``PERSON`` at a modest score where
    nothing else was found."""
    out = list(dets)
    covered = Spans(dets)
    for d in dets:
        if d.entity_type != "LOCATION" or not any(c.isdigit() for c in text[d.start : d.end]):
            continue
        line_start = text.rfind("\n", 0, d.start) + 1
        if text[line_start : d.start].strip(_LABEL_BULLETS):
            continue  # the address does not start its line: not a label
        out.extend(p for p in _label_names_above(text, line_start) if not covered.overlaps(p))
    return out


def name_like_spans(ents: Iterable[Any]) -> list[Detection]:
    """Two- or three-word entities of spaCy's ``ORG``/``PRODUCT``/``WORK_OF_ART``/``FAC``
    labels made of name-shaped words with no organisation word (``Sigrid Nyström``), as
    ``PERSON`` at a weak score. ``ents`` are spaCy spans (``doc.ents``)."""
    out = []
    for ent in ents:
        if ent.label_ not in _NAME_LIKE_LABELS:
            continue
        words = ent.text.split()
        if not 2 <= len(words) <= 3 or any(w in ORG_WORDS for w in words):
            continue
        if all(_NAME_WORD.match(w) for w in words) and len(words[-1]) > 2:
            out.append(Detection(ent.start_char, ent.end_char, "PERSON", _NAME_LIKE_SCORE))
    return out


# Between two detected parts of one name: middle initials and the particles of family names.
_NAME_GAP = regex.compile(
    r"[ \t]+(?:(?:\p{Lu}\.?|(?i:de|la|del|della|de[ \t]la|van|von|der|den|ter|da|di|du|dos|"
    r"le|bin|ibn|al|el|ben|mac|st\.?))[ \t]+){1,3}"
)


def join_name_parts(
    text: str, dets: Sequence[Detection], stop: Iterable[str] = ()
) -> list[Detection]:
    """Two ``PERSON`` detections separated only by initials or family-name particles are one
    name: ``DENNIS`` + ``T`` + ``HEALEY``, ``GUILLERMO`` + ``DE LA`` + ``VARA``. spaCy's small
    model often finds the parts of an all-capital name and leaves the initial between them,
    which would survive anonymization; the joined span (score of the stronger part) replaces
    both parts. A name that ends in an initial takes the capitalised word after it (``Steven
    A`` + ``Wolvek``), and one right after an initial takes the initial (``S. WILLIAM
    MANERA``, ``Neil`` + ``F. Luria``); a stop word (``When A. Smith``) is not a name."""
    stop = frozenset(stop)
    persons = sorted((d for d in dets if d.entity_type == "PERSON"), key=lambda d: d.start)
    if not persons:
        return list(dets)
    joined: list[Detection] = []
    parts: set[Detection] = set()
    current = persons[0]
    group = [current]
    for nxt in persons[1:]:
        gap = _NAME_GAP.fullmatch(text, current.end, nxt.start) if nxt.start > current.end else None
        if gap is not None:
            current = Detection(current.start, nxt.end, "PERSON", max(current.score, nxt.score))
            group.append(nxt)
            continue
        if len(group) > 1:
            joined.append(current)
            parts.update(group)
        current, group = nxt, [nxt]
    if len(group) > 1:
        joined.append(current)
        parts.update(group)
    kept = [d for d in dets if d not in parts] + joined if joined else list(dets)
    return [_with_initials(text, d, stop) if d.entity_type == "PERSON" else d for d in kept]


# A name that ends in an initial goes on ("Steven A" + " Wolvek"), and so does one followed
# by an initial and a surname ("Arthur" + " J Spector"); one that starts after an initial
# began before it ("S. " + "WILLIAM MANERA"), and one that starts with an initial began with
# the given name before it ("Neil " + "F. Luria").
_ENDS_IN_INITIAL = regex.compile(r"(?:^|[ \t])\p{Lu}\.?$")
_STARTS_WITH_INITIAL = regex.compile(r"\p{Lu}\.?[ \t]")
_SURNAME = r"(\p{Lu}(?:\p{Ll}+|\p{Lu}+)(?:[\-'’]\p{Lu}?\p{L}+)?)\b"
_NEXT_SURNAME = regex.compile(rf"[ \t]+{_SURNAME}")
_NEXT_INITIAL_SURNAME = regex.compile(rf"[ \t]+\p{{Lu}}\.?[ \t]+{_SURNAME}")
_INITIAL_BEFORE = regex.compile(r"(?:^|(?<=[\s(]))\p{Lu}\.[ \t]+$")
_GIVEN_NAME_BEFORE = regex.compile(r"(?:^|(?<=[\s(]))(\p{Lu}(?:\p{Ll}+|\p{Lu}+))[ \t]+$")


def _name_word(word: str, stop: frozenset[str]) -> bool:
    low = word.lower()
    return len(word) > 1 and not (low in _NOT_LISTED_NAMES or low in _TITLE_WORDS or low in stop)


def _with_initials(text: str, d: Detection, stop: frozenset[str]) -> Detection:
    """``d`` widened over an initial and the surname after it and over an initial or a given
    name right before its own initial."""
    start, end = d.start, d.end
    ahead = _NEXT_SURNAME if _ENDS_IN_INITIAL.search(text, start, end) else _NEXT_INITIAL_SURNAME
    m = ahead.match(text, end)
    if m and _name_word(m.group(1), stop):
        end = m.end(1)
    m = _INITIAL_BEFORE.search(text, max(0, start - 4), start)
    if m:
        start = m.start()
    elif _STARTS_WITH_INITIAL.match(text, start, end):
        m = _GIVEN_NAME_BEFORE.search(text, max(0, start - 30), start)
        if m and _name_word(m.group(1), stop):
            start = m.start(1)
    return d if (start, end) == (d.start, d.end) else Detection(start, end, "PERSON", d.score)
