"""Names after titles and initials (``Mr A.B. Smith``, ``Dr. Okafor``, ``MRS K PATEL``).

spaCy's small English model misses many of these; Presidio has no recognizer for them.
"""

from __future__ import annotations

from presidio_analyzer import Pattern, PatternRecognizer

from thresher.pii.recognizers._base import CASE_SENSITIVE, hinted

_TITLE = (
    r"(?:Mr|Mrs|Ms|Mx|Miss|Mister|Dr|Doctor|Prof|Professor|Sir|Dame|Lady|Lord|Rev|Fr|Sr|Nurse|"
    r"MR|MRS|MS|MISS|DR|PROF|SIR|REV)"
)
_WORD = r"(?:[A-Z][a-z]+(?:[\-'][A-Z]?[a-z]+)?|[A-Z]{2,}(?:[\-'][A-Z]{2,})?)"
_INITIALS = r"(?:[A-Z]\.\s?){1,3}"
_STOP = (
    r"(?!(?:AT|OF|IN|ON|THE|AND|TO|FOR|BY|WITH|FROM|IS|WAS|HAS|HAD|WHO|SAID|AS|OR|At|Of|In|"
    r"On|The|And|To|For|By|With|From|Is|Was|Has|Had|Who|Said|As|Or)\b)"
)
# Words that follow a title but are not names ("Dr Who" stays a risk we accept).
_NOT_NAMES = frozenset(
    [
        "The",
        "A",
        "An",
        "And",
        "Of",
        "In",
        "On",
        "At",
        "To",
        "For",
        "With",
        "By",
        "From",
        "Is",
        "Was",
        "Our",
        "Your",
        "My",
        "His",
        "Her",
        "Their",
    ]
)


class TitledPersonRecognizer(PatternRecognizer):
    """A title followed by initials and/or one to three capitalised (or all-capital) words;
    also initials followed by a surname (``A.B. Smith``). Only the name is reported, not the
    title. Entity: ``PERSON``."""

    PATTERNS = [
        hinted(
            Pattern(
                "title_name",
                rf"(?<=\b{_TITLE}\.?\s{{1,2}})(?:{_INITIALS}\s?|(?:[A-Z]\s){{1,2}})?"
                rf"{_STOP}{_WORD}(?:\s{_STOP}{_WORD}){{0,2}}\b",
                0.85,
            ),
            rf"\b{_TITLE}\.?\s",
        ),
        Pattern("title_initials", rf"(?<=\b{_TITLE}\.?\s{{1,2}}){_INITIALS}(?![A-Za-z])", 0.6),
        Pattern("initials_surname", r"\b(?:[A-Z]\.\s?){1,3}[A-Z][a-z]{2,}(?:-[A-Z][a-z]+)?\b", 0.6),
    ]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="PERSON",
            name="TitledPersonRecognizer",
            patterns=self.PATTERNS,
            supported_language=supported_language,
            global_regex_flags=CASE_SENSITIVE,
        )

    def validate_result(self, pattern_text: str) -> bool:
        words = pattern_text.replace(".", ". ").split()
        return (
            bool(words)
            and words[0] not in _NOT_NAMES
            and pattern_text[:4] not in {"U.S.", "U.K.", "E.U.", "U.N."}
        )
