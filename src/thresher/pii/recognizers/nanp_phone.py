"""North American phone numbers written the usual ways: ``(212) 555-0134``, ``212-555-0134``,
``212.555.0134``, ``+1 212 555 0134``.

Presidio's phone recognizer (``phonenumbers``' matcher) reads a run of digit groups as one
candidate, so a number followed by other digits ("(212) 201-1000  4111 1111 ...") fails
validation as a whole and is missed; this pattern looks at the number alone.
"""

from __future__ import annotations

from presidio_analyzer import Pattern, PatternRecognizer

from thresher.pii.recognizers._base import CASE_SENSITIVE


class NanpPhoneRecognizer(PatternRecognizer):
    """Area code and exchange starting 2-9, separators required between groups (a bare run
    of ten digits is left to Presidio). Entity: ``PHONE_NUMBER``."""

    PATTERNS = [
        Pattern(
            "nanp_phone",
            r"(?<![\w+\-.])(?:\+?1[ .\-]?)?(?:\([2-9]\d{2}\)[ ]?|[2-9]\d{2}[ .\-])"
            r"[2-9]\d{2}[ .\-]\d{4}(?![\w\-])",
            0.45,
        )
    ]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="PHONE_NUMBER",
            name="NanpPhoneRecognizer",
            patterns=self.PATTERNS,
            context=["phone", "call", "tel", "mobile", "cell", "fax", "number"],
            supported_language=supported_language,
            global_regex_flags=CASE_SENSITIVE,
        )
