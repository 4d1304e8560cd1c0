"""Identifying numbers after a cue that names them: medical record numbers (``MRN: 4455123``,
``MR# 00923``), case, application, claim and docket numbers (``Case No. 2:19-cv-01234``,
``application no. 12345/08``, ``Bankruptcy Petition #: 10-05360``, ``Civil Action No.``,
``Index No.``, ``Inmate #``), account, licence, policy, member and health-plan numbers,
and vehicle and device identifiers (``VIN 1HGCM82633A004352``, ``serial no. SN-88412``,
``registration no. 4GDX-113``). Reported as ``ID_NUMBER``; the cue is not part of the span.

A number alone is too weak a signal (years, doses, counts); the cue is the evidence, so the
pattern requires one directly before the value, and the value must hold at least three digits
(``case 2`` and ``case study`` are not identifiers)."""

from __future__ import annotations

from presidio_analyzer import Pattern, PatternRecognizer

from thresher.pii.recognizers._base import CASE_SENSITIVE

# What the number is: one alternative per kind of identifier, case-insensitive.
_KIND = (
    r"(?:medical[ \t]record|mrn|mr|hospital|patient|unit|chart|case|docket|file|application|"
    r"petition|proceeding|matter|index|indictment|cause|action|appeal|inmate|prisoner|"
    r"claim|account|acct|a/c|licen[cs]e|lic|policy|member|membership|subscriber|beneficiary|"
    r"health[ \t]plan|insurance|group|reference|ref|record|registration|reg|serial|device|"
    r"vehicle|vin|imei|plate|licen[cs]e[ \t]plate|badge|employee|student|passport|certificate|"
    r"permit|booking|admission|accession|specimen|encounter|visit|id)"
)
# How the label is written before the value: "No.", "number", "#", "ID", ":"
_LABEL = r"(?:[ \t]?(?:no\.?|nos\.?|number|num\.?|n°|#|id|identifier|code)){0,2}"
_CUE = rf"(?i:\b{_KIND}{_LABEL}[ \t]*[:#]?[ \t]*)"
# A value: letters, digits and inner separators; "2:19-cv-01234", "12345/08", "AB-4471-K".
_VALUE = r"(?<![A-Za-z0-9])[A-Za-z0-9](?:[A-Za-z0-9]|[\-/:.](?=[A-Za-z0-9])|[ ](?=\d{2,}\b)){2,30}"
# Bare-word cues are only cues with a label or a colon after them ("case 12345" is ambiguous,
# "Case No. 12345" and "MRN 4455123" are not): the strong kinds need no label.
_STRONG = r"(?:mrn|mr#|vin|imei|acct|a/c|docket)"


class CuedIdNumberRecognizer(PatternRecognizer):
    """A value with at least three digits right after an identifier cue (``MRN``, ``Case No.``,
    ``application no.``, ``account number``, ``Policy #``, ``licence no.``, ``VIN``,
    ``serial number``, ...). Entity: ``ID_NUMBER``."""

    PATTERNS = [
        # kind + label ("Case No.", "account number", "Policy #", "Member ID:")
        Pattern(
            "labelled_id",
            rf"(?i:(?<=\b{_KIND}[ \t]?(?:no\.?|nos\.?|number|num\.?|n°|#|id|identifier|code)"
            rf"[ \t]*[:#.]?[ \t]*)){_VALUE}",
            0.7,
        ),
        # a strong kind alone or any kind with a colon ("MRN 4455123", "Account: 9921-33")
        Pattern(
            "strong_cue_id",
            rf"(?i:(?<=\b(?:{_STRONG}|{_KIND}[ \t]?:)[ \t]*[:#]?[ \t]*)){_VALUE}",
            0.6,
        ),
    ]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="ID_NUMBER",
            name="CuedIdNumberRecognizer",
            patterns=self.PATTERNS,
            supported_language=supported_language,
            global_regex_flags=CASE_SENSITIVE,
        )

    def validate_result(self, pattern_text: str) -> bool:
        return sum(c.isdigit() for c in pattern_text) >= 3
