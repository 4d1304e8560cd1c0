"""Ages over 89 (``a 92-year-old woman``, ``aged 94``, ``Age: 101``, ``93 y/o``, ``91 yo``):
HIPAA Safe Harbor removes them (they are rare enough to identify) and keeps younger ages.
Entity: ``AGE_OVER_89``."""

from __future__ import annotations

from presidio_analyzer import Pattern, PatternRecognizer

from thresher.pii.recognizers._base import CASE_SENSITIVE

_AGE = r"(?:9\d|1[0-2]\d)"


class AgeOver89Recognizer(PatternRecognizer):
    """An age of 90 to 129 written as an age: before ``year(s) old``, ``-year-old``, ``yo``,
    ``y/o``, ``yrs``, or after ``aged``/``age``. Only the number is reported."""

    PATTERNS = [
        Pattern(
            "age_before_unit",
            rf"(?i:\b{_AGE}(?=[ \t\-]?(?:years?|yrs?|y)[ \t\-]?(?:old|o\b|/o\b)|"
            rf"[ \t\-]?(?:yo|y/o|y\.o\.)\b|[ \t\-]years?[ \t\-]of[ \t\-]age\b))",
            0.7,
        ),
        Pattern("age_after_cue", rf"(?i:(?<=\b(?:aged|age)[ \t]?:?[ \t]?){_AGE}\b)", 0.7),
    ]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="AGE_OVER_89",
            name="AgeOver89Recognizer",
            patterns=self.PATTERNS,
            supported_language=supported_language,
            global_regex_flags=CASE_SENSITIVE,
        )
