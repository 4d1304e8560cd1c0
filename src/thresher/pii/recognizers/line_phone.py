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

Within the stretches the matcher parses and verifies each candidate (a digit run, then its
inner groups) once per region, and the same candidates come back again and again: on the
stretches of 24 long documents, 46,574 parses of 29,562 distinct candidates in their
surroundings. What ``_parse_and_verify`` decides depends on the candidate, the region, the
leniency and the character either side of it, nothing else, so the recognizer keeps each
verdict (a parsed number or none) and answers repeats from it.
"""

from __future__ import annotations

import re
from typing import Any

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberMatch, PhoneNumberMatcher
from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.predefined_recognizers import PhoneRecognizer

from thresher.pii.gates import PHONEISH

# Line breaks and the ASCII letters that occur in none of phonenumbers' extension labels
# (``ext``, ``extension``, ``x``, ``int``, ``anexo``, ``;ext=``), in either case.
_BOUNDARY = re.compile(r"[\nb-df-hj-mp-ru-wyzB-DF-HJ-MP-RU-WYZ]")
# Verdicts a recognizer keeps (then it forgets them all and starts again); a few hundred bytes
# each.
_MEMO_MAX = 100_000
_Verdicts = dict[tuple[str, str | None, int, str, str], PhoneNumber | None]


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
        self._verdicts: _Verdicts = {}

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: Any = None
    ) -> list[RecognizerResult]:
        results: list[RecognizerResult] = []
        if len(self._verdicts) > _MEMO_MAX:
            self._verdicts = {}
        for start, end in phone_windows(text):
            for r in self._analyze_stretch(text[start:end], nlp_artifacts):
                r.start += start
                r.end += start
                results.append(r)
        return results

    def _analyze_stretch(self, text: str, nlp_artifacts: Any) -> list[RecognizerResult]:
        """``PhoneRecognizer.analyze`` line for line, with the remembering matcher. (Where a
        match does not parse alone, Presidio names the explanation's region after the
        previous match's; kept, so the explanations are Presidio's too.)"""
        results = []
        for region in self.supported_regions:
            matcher = _RememberingMatcher(text, region, self.leniency, self._verdicts)
            for match in matcher:
                try:
                    parsed_number = phonenumbers.parse(text[match.start : match.end])
                    region = phonenumbers.region_code_for_number(parsed_number)
                    results += [self._get_recognizer_result(match, text, region, nlp_artifacts)]
                except NumberParseException:
                    results += [self._get_recognizer_result(match, text, region, nlp_artifacts)]
        return EntityRecognizer.remove_duplicates(results)


class _RememberingMatcher(PhoneNumberMatcher):
    """``phonenumbers``' matcher with its candidates' verdicts kept in ``verdicts``.

    ``_parse_and_verify(candidate, offset)`` reads the text only for the character before the
    candidate (where there is one) and the one after it, to reject a number glued to a
    letter; the rest is ``parse(candidate, region)`` and the leniency's checks of that number
    and the candidate. So a verdict kept under those five is the one the matcher would reach
    again; a kept number comes back as a fresh copy at the new offset."""

    def __init__(self, text: str, region: str, leniency: Any, verdicts: _Verdicts) -> None:
        super().__init__(text, region, leniency=leniency)
        self._verdicts = verdicts

    def _parse_and_verify(self, candidate: str, offset: int) -> PhoneNumberMatch | None:
        after = offset + len(candidate)
        key = (
            candidate,
            self.preferred_region,
            int(self.leniency),
            self.text[offset - 1] if offset > 0 else "",
            self.text[after] if after < len(self.text) else "",
        )
        if key in self._verdicts:
            known = self._verdicts[key]
            if known is None:
                return None
            number = PhoneNumber()
            number.merge_from(known)
            return PhoneNumberMatch(offset, candidate, number)
        match = super()._parse_and_verify(candidate, offset)
        if match is None:
            self._verdicts[key] = None
        else:
            self._verdicts[key] = kept = PhoneNumber()
            kept.merge_from(match.number)
        return match
