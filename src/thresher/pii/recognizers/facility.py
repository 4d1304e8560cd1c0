"""Care facilities named in notes and judgments, reported as ``LOCATION`` (a facility is a
geographic unit smaller than a state for HIPAA Safe Harbor): ``St Mary's Hospital``,
``Beth Israel Deaconess Medical Center``, ``transferred to Lakeview Memorial``,
``Greenacres Nursing Home``, ``ST CHRISTOPHER'S HOSPICE``, and, in lower-case notes, the
name after an admission cue (``admitted to mercy hospital``, ``transferred to st. mary's
hospital``).

Generic words (``the``, ``local``, ``psychiatric``, ``University``, ``Cardiology``) do not
make a name: ``the hospital``, ``General Hospital`` and ``hospital policy`` are not reported."""

from __future__ import annotations

from presidio_analyzer import Pattern, PatternRecognizer

from thresher.pii.recognizers._base import CASE_SENSITIVE, hinted

_FACILITY = (
    r"(?i:hospital|hosp\.|clinic|medical[ \t]cent(?:er|re)|health[ \t]cent(?:er|re)|"
    r"care[ \t]home|nursing[ \t]home|residential[ \t]home|rest[ \t]home|hospice|infirmary|"
    r"sanatorium|rehab(?:ilitation)?[ \t](?:cent(?:er|re)|hospital|facility)|"
    r"surgery[ \t]cent(?:er|re)|medical[ \t]group|health[ \t]system|assisted[ \t]living)"
)
# Name words: capitalised or all-capital, with "St."/"Saint", "of", "and", "the" inside.
# Sentence words written in capitals ("PT TRANSFERRED TO ST MARY'S HOSPITAL") are not name.
_NOT_NAME = (
    r"(?!(?i:to|at|from|in|on|into|by|for|with|the|a|an|and|of|was|is|were|pt|patient|"
    r"transferred|admitted|discharged|seen|sent|taken|referred|went|he|she|they|we|i)\b)"
)
_NAME_WORD = rf"{_NOT_NAME}(?:\p{{Lu}}[\p{{L}}'’\-]*\.?|St\.?|ST\.?)"
_NAME = rf"{_NAME_WORD}(?:[ \t](?:(?:of|and|the|&|OF|AND|THE)[ \t])?{_NAME_WORD}){{0,4}}"
# "Lakeview Memorial" names a hospital on its own.
_MEMORIAL = rf"{_NAME_WORD}(?:[ \t]{_NAME_WORD}){{0,2}}[ \t](?:Memorial|MEMORIAL)\b"
# Lower-case notes name the place after an admission cue: "admitted to mercy hospital".
_ADMIT = (
    r"(?i:(?<=\b(?:admitted|transferred|transfer|discharged|sent|taken|brought|presented|"
    r"referred|readmitted|moved|returned|seen|followed)[ \t](?:to|at|from|in|by)[ \t]))"
)
_LOWER_NAME = r"(?:(?!the\b|a\b|an\b)(?:st\.|[a-z][a-z'’\-]+)[ \t]){1,3}"
_GENERIC_TEXT = (
    "the a an this that another other our his her their its same local nearest nearby outside "
    "community general psychiatric mental children's childrens women's university teaching "
    "regional district county state city private public national veterans military main "
    "outpatient inpatient emergency urgent day walk-in specialist specialty primary "
    "cardiology oncology surgery surgical medical dental eye pain fertility diabetes "
    "rehabilitation rehab memory sleep st st. saint of and & in at to from new old "
    "follow-up antenatal maternity paediatric pediatric geriatric acute chronic "
    "hospital clinic nursing care health home"
)
_GENERIC = frozenset(_GENERIC_TEXT.split())


class FacilityRecognizer(PatternRecognizer):
    """A hospital, clinic, medical centre, care or nursing home, hospice or infirmary with its
    name (capitalised, all-capital, or lower-case after an admission cue), and ``X Memorial``.
    The whole name is reported, facility word included. Entity: ``LOCATION``."""

    PATTERNS = [
        hinted(
            Pattern("named_facility", rf"\b{_NAME}[ \t]{_FACILITY}\b", 0.7),
            rf"[ \t]{_FACILITY}\b",
        ),
        Pattern("facility_of_place", rf"\b{_FACILITY}[ \t](?:of|OF)[ \t]{_NAME}", 0.6),
        hinted(Pattern("memorial", rf"\b{_MEMORIAL}", 0.65), r"[ \t](?:Memorial|MEMORIAL)\b"),
        hinted(
            Pattern("admitted_to_facility", rf"{_ADMIT}{_LOWER_NAME}{_FACILITY}\b", 0.6),
            rf"[ \t]{_FACILITY}\b",
        ),
    ]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="LOCATION",
            name="FacilityRecognizer",
            patterns=self.PATTERNS,
            supported_language=supported_language,
            global_regex_flags=CASE_SENSITIVE,
        )

    def validate_result(self, pattern_text: str) -> bool:
        words = pattern_text.replace("\t", " ").split(" ")
        return any(w.lower().strip(".,") not in _GENERIC for w in words if w)
