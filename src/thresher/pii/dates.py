"""Dates with the year left in place (``pii.keep_years``): HIPAA Safe Harbor removes every
date element except the year, so ``12 March 1998`` becomes ``<DATE_TIME> 1998`` and
``03/12/1998`` becomes ``<DATE_TIME>/1998``; a year alone (``in 1998``) is kept.

Works on detections, before overlaps are resolved: each ``DATE_TIME`` span is cut around the
four-digit years (1800-2099) inside it; the pieces that still hold a date element (a number
or a capitalised word), trimmed of separators and linking words, are what gets replaced.
Relative dates with neither (``today``, ``two weeks ago``, ``this morning``) name no calendar
date and stay. Any operator then applies to them
(a surrogate keeps the year because the year is never part of the value).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from thresher.pii.operators import Detection

_YEAR = re.compile(r"(?<![\w])(?:18|19|20)\d\d(?![\w])")
# What may sit between a year and the rest of a date: "March 12, 1998", "March of 1998".
_LEAD = re.compile(r"(?:[\s,./\-'’]|(?:of|in|on|the)\b)+")
_TRAIL = re.compile(r"(?:[\s,./\-'’]|\b(?:of|in|on|the))+$")
# Relative words spaCy labels DATE or TIME; they name no calendar date.
_RELATIVE = frozenset({"today", "yesterday", "tomorrow", "tonight", "now", "currently"})
_WORD = re.compile(r"\w+")


def keep_years(text: str, dets: Iterable[Detection]) -> list[Detection]:
    """``dets`` with every ``DATE_TIME`` span cut around the years it holds.

    >>> text = "seen on 12 March 1998 and in 2004"
    >>> [text[d.start : d.end] for d in keep_years(text, [Detection(8, 21, "DATE_TIME", 0.85),
    ...  Detection(29, 33, "DATE_TIME", 0.85)])]
    ['12 March']
    """
    out: list[Detection] = []
    for d in dets:
        out.extend(_pieces(text, d) if d.entity_type == "DATE_TIME" else [d])
    return out


def _pieces(text: str, d: Detection) -> list[Detection]:
    value = text[d.start : d.end]
    years = list(_YEAR.finditer(value))
    if not years:
        return [d] if _has_date_element(value) else []
    cuts = [0] + [x for m in years for x in (m.start(), m.end())] + [len(value)]
    pieces: list[Detection] = []
    for a, b in zip(cuts[::2], cuts[1::2], strict=True):
        lead = _LEAD.match(value, a, b)
        a = lead.end() if lead else a
        trail = _TRAIL.search(value[a:b])
        b = a + trail.start() if trail else b
        if _has_date_element(value[a:b]):
            pieces.append(Detection(d.start + a, d.start + b, d.entity_type, d.score))
    return pieces


def _has_date_element(value: str) -> bool:
    """A number or a capitalised word ("12", "March", "Monday", "Christmas"); not the "between"
    and "and" around a range of years, nor "today", "two weeks ago", "this morning"."""
    return any(
        any(c.isdigit() for c in w) or (w[0].isupper() and w.lower() not in _RELATIVE)
        for w in _WORD.findall(value)
    )
