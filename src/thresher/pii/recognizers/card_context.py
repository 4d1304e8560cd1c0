"""Payment card numbers outside Presidio's patterns (12-19 digits: 19-digit Visa, Maestro,
JCB, 2-series Mastercard), Luhn-checked, reported only with card context."""

from __future__ import annotations

from presidio_analyzer import Pattern, PatternRecognizer

from thresher.pii.recognizers._base import CASE_SENSITIVE
from thresher.pii.surrogates import luhn_valid


class CardInContextRecognizer(PatternRecognizer):
    """A 12-19 digit number (optionally in groups) passing the Luhn check. Weak alone (0.3,
    under the default threshold); Presidio's context enhancement lifts it when ``card``,
    ``cc``, ``visa``... stands nearby. Entity: ``CREDIT_CARD``."""

    PATTERNS = [
        Pattern(
            "luhn_digits",
            r"(?<![\w\-.])\d(?:[ \-]?\d){11,18}(?![\w\-]|\.\d)",
            0.3,
        )
    ]
    CONTEXT = [
        "card",
        "cc",
        "credit",
        "debit",
        "visa",
        "mastercard",
        "amex",
        "maestro",
        "jcb",
        "payment",
        "charge",
        "billing",
    ]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="CREDIT_CARD",
            name="CardInContextRecognizer",
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            supported_language=supported_language,
            global_regex_flags=CASE_SENSITIVE,
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        # None keeps the weak score: only context may lift it over the threshold
        return None if luhn_valid(pattern_text) else False
