"""Short phone numbers after a cue that says so: pager, beeper and bleep numbers, fax and
extension numbers (``Pager #12345``, ``PG 4-5678``, ``beeper 3321``, ``fax: 617 555 0100``,
``ext. 4412``, ``x4412``). Clinical notes write them this way; they are too short for a
phone-number matcher and too bare for context words alone."""

from __future__ import annotations

from presidio_analyzer import Pattern, PatternRecognizer

from thresher.pii.recognizers._base import CASE_SENSITIVE

# The cue, then an optional "#", "no." or ":" before the number. "PG" only in capitals
# ("pg. 12" is a page); "x" only glued to the digits or after a phone number ("x4412").
_CUE = (
    r"(?:(?i:\b(?:pager|beeper|bleep|pgr|fax|facsimile|ext|extn|extension)\b)|\bPG\b|\bPg\b)"
    r"\.?[ \t]*(?:(?i:no\.?|number|num\.?)[ \t]*)?[#:]?[ \t]*"
)
# 3 to 12 digits, at most four groups ("4-5678", "617 555 0100", "(617) 555-0100").
_NUMBER = r"(?:\(\d{2,4}\)[ \t]?)?\d{1,6}(?:[ \t\-.]\d{2,5}){0,3}"
# Not a quantity: "extension 30 days", "fax 3 pages".
_NOT_QUANTITY = (
    r"(?![\w.]*\d)(?!\.\d)(?![ \t]*(?i:days?|weeks?|months?|years?|hours?|hrs?|minutes?|mins?|"
    r"pages?|sheets?|times?|mg|mcg|ml|mm|cm|kg|%|percent)\b)"
)


class CuedShortPhoneRecognizer(PatternRecognizer):
    """A number of 3-12 digits after a pager, beeper, fax or extension cue; the cue is not part
    of the span. Also ``x1234`` glued to a preceding phone number. Entity: ``PHONE_NUMBER``."""

    PATTERNS = [
        Pattern("cued_short_number", rf"(?<={_CUE}){_NUMBER}{_NOT_QUANTITY}", 0.6),
        Pattern("x_extension", r"(?<=\d[ \t]?)\b[xX][ \t]?\d{2,6}\b", 0.6),
    ]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="PHONE_NUMBER",
            name="CuedShortPhoneRecognizer",
            patterns=self.PATTERNS,
            supported_language=supported_language,
            global_regex_flags=CASE_SENSITIVE,
        )

    def validate_result(self, pattern_text: str) -> bool:
        digits = sum(c.isdigit() for c in pattern_text)
        return 3 <= digits <= 12
