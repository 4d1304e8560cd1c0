"""Presidio's ``PhoneRecognizer``, run only on the stretches of text that can hold a number.

``phonenumbers``' matcher parses every digit run of the text once per region (eight regions):
on long documents full of dates, years and case numbers that is most of the phone cost, and
nearly all of it far from any phone number. Its candidates are contiguous runs of digits,
punctuation and extension labels: none holds a line break or one of the letters in
``_BOUNDARY`` (no pattern of the matcher admits them), and what it checks around a candidate
(the character either side, a ``:ss`` time suffix) never reaches past one. So the text splits
at those characters into stretches the matcher reads independently; run on a stretch with one
boundary character either side, it finds the same numbers at the same offsets as on the whole
text. Only stretches holding a run of seven digits (the phone gate's condition, ``gates``) are
read: every number the recognizer accepts holds such a run.
"""

from __future__ import annotations

import re
from typing import Any

import phonenumbers
from presidio_analyzer import RecognizerResult
from presidio_analyzer.predefined_recognizers import PhoneRecognizer

from thresher.pii.gates import PHONEISH

# Line breaks and the ASCII letters that occur in none of phonenumbers' extension labels
# (``ext``, ``extension``, ``x``, ``int``, ``anexo``, ``;ext=``), in either case.
_BOUNDARY = re.compile(r"[\nb-df-hj-mp-ru-wyzB-DF-HJ-MP-RU-WYZ]")


def phone_windows(text: str) -> list[tuple[int, int]]:
    """(start, end) of the stretches of ``text`` to read, each with its boundary characters,
    in order and disjoint.

    >>> phone_windows("born in 1990; call 212-555-0134 today")
    [(17, 35)]
    """
    windows: list[tuple[int, int]] = []
    for m in PHONEISH.finditer(text):
        if windows and m.end() <= windows[-1][1]:
            continue  # inside the last stretch already
        after = _BOUNDARY.search(text, m.end())
        end = after.end() if after else len(text)
        if windows and m.start() < windows[-1][1]:
            # a run that starts in the last stretch and goes on past a line break ("DE
            # 19899-0391 \n(302)-571-6600"): the stretch goes on with it
            windows[-1] = (windows[-1][0], end)
            continue
        before = [b.start() for b in _BOUNDARY.finditer(text, max(0, m.start() - 200), m.start())]
        start = _last_boundary(text, m.start(), before)
        if windows and start < windows[-1][1]:
            windows[-1] = (windows[-1][0], end)
        else:
            windows.append((start, end))
    return windows


def _last_boundary(text: str, pos: int, found: list[int]) -> int:
    """The last boundary character before ``pos`` (searched back in steps), else 0."""
    while not found:
        if pos <= 0:
            return 0
        lo = max(0, pos - 2000)
        found = [b.start() for b in _BOUNDARY.finditer(text, lo, pos)]
        pos = lo
    return found[-1]


class LinePhoneRecognizer(PhoneRecognizer):
    """``PhoneRecognizer`` (same name, regions, score and context) over ``phone_windows``.

    It turns on ``phonenumbers``' own pattern cache (its public ``enable_pattern_cache``, in
    releases that have it): the matcher compiles the metadata's patterns of eight regions as it
    goes, more than the ``re`` module's cache holds, so without it they are compiled again and
    again (7-16% of the phone time on the phone windows of 12 long documents). Process-wide
    and idempotent; the compiled patterns are the same, so the numbers found are too."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        enable = getattr(phonenumbers, "enable_pattern_cache", None)
        if enable is not None:
            enable()

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: Any = None
    ) -> list[RecognizerResult]:
        results: list[RecognizerResult] = []
        for start, end in phone_windows(text):
            for r in super().analyze(text[start:end], entities, nlp_artifacts):
                r.start += start
                r.end += start
                results.append(r)
        return results
