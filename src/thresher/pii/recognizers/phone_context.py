"""Phone numbers in any national format, when the context says they are phone numbers
(``Phone: 451 5986``, ``call me on 9472 7916``, ``+46 (0)179 459 33 fax``).

The pattern alone is weak (score 0.2, under every sensible threshold): digit groups are
everywhere. Presidio's context enhancement lifts it by 0.35 when a phone word stands within
five tokens, which is the only way it reaches the default threshold of 0.4.
"""

from __future__ import annotations

from presidio_analyzer import Pattern, PatternRecognizer

from thresher.pii.recognizers._base import CASE_SENSITIVE

_GROUPED = (
    r"(?<![\w+\-./:])(?:\+\d{1,3}[ \-]?)?(?:\(\d{1,4}\)[ \-]?)?\d{2,4}(?:[ \-.]\d{2,4}){1,4}"
    r"(?![\w\-/:]|\.\d)"
)


class PhoneInContextRecognizer(PatternRecognizer):
    """7 to 15 digits in groups (optional ``+`` country code and ``(0)``/``(area)`` part),
    reported only with phone context. Entity: ``PHONE_NUMBER``."""

    PATTERNS = [
        Pattern("grouped_digits", _GROUPED, 0.2),
        # "call me on ...": spaCy counts "call" as a stop word, which context enhancement skips
        Pattern(
            "called_number",
            r"(?i:(?<=\b(?:call|ring|text|reach|dial)(?:\s(?:me|us|him|her|them))?\s(?:on|at)\s))"
            + _GROUPED,
            0.5,
        ),
    ]
    CONTEXT = [
        "phone",
        "call",
        "tel",
        "telephone",
        "mobile",
        "cell",
        "fax",
        "office",
        "answering",
        "messages",
        "whatsapp",
        "sms",
        "text",
        "registered",
        "contact",
        "reach",
        "dial",
    ]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="PHONE_NUMBER",
            name="PhoneInContextRecognizer",
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            supported_language=supported_language,
            global_regex_flags=CASE_SENSITIVE,
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        digits = sum(c.isdigit() for c in pattern_text)
        if not 7 <= digits <= 15:
            return False
        return None  # keep the weak score: only context may lift it
