"""Presidio's UK NHS number recognizer, minus the US phone numbers it also matches.

Presidio tags ``401-023-2137`` as ``UK_NHS`` whenever the mod-11 check happens to pass (about
one US number in eleven), and at score 1.0 that hides the ``PHONE_NUMBER`` result. NHS numbers
are written ``943 476 5919`` (spaces) or run together; dashes, dots or a parenthesised area
code mark a North American phone number.
"""

from __future__ import annotations

import re

from presidio_analyzer.predefined_recognizers import NhsRecognizer

_US_STYLE = re.compile(r"^(?:\(\d{3}\)\s?|\d{3}[.\-])\d{3}[.\-]\d{4}$")


class UsPhoneAwareNhsRecognizer(NhsRecognizer):
    """``UK_NHS`` as Presidio finds it, except numbers in US phone notation."""

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(supported_language=supported_language)
        self.name: str = "UsPhoneAwareNhsRecognizer"

    def invalidate_result(self, pattern_text: str) -> bool:
        return bool(_US_STYLE.match(pattern_text.strip()))
