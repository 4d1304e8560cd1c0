"""Places announced by their context: ``flew to LEPPEN``, ``grew up in Sund``, ``originally
from Tjæreborg``, ``based in Laax``. spaCy's small model misses small towns and foreign or
all-capital place names that English syntax marks this plainly."""

from __future__ import annotations

from presidio_analyzer import Pattern, PatternRecognizer

from thresher.pii.cues import PLACE_CUE
from thresher.pii.recognizers._base import CASE_SENSITIVE

_LINK = r"(?:de|del|de la|da|do|di|du|la|le|van|von|upon)"
_PLACE = rf"\p{{Lu}}[\p{{L}}'’\-]+(?:\s(?:{_LINK}\s)?\p{{Lu}}[\p{{L}}'’\-]+){{0,3}}"
CUE = PLACE_CUE  # shared with truecasing: thresher.pii.cues
_NOT_PLACES_TEXT = (
    "The A An My Our Your His Her Their This That Monday Tuesday Wednesday Thursday Friday "
    "Saturday Sunday January February March April May June July August September October "
    "November December Christmas Easter"
)
_NOT_PLACES = frozenset(_NOT_PLACES_TEXT.split())


class PlaceContextRecognizer(PatternRecognizer):
    """A capitalised (or all-capital) place name after a movement or residence cue. Only the
    place is reported. Entity: ``LOCATION``."""

    PATTERNS = [Pattern("cued_place", rf"(?i:(?<=\b{CUE}\s{{1,2}})){_PLACE}", 0.86)]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="LOCATION",
            name="PlaceContextRecognizer",
            patterns=self.PATTERNS,
            supported_language=supported_language,
            global_regex_flags=CASE_SENSITIVE,
        )

    def validate_result(self, pattern_text: str) -> bool:
        return pattern_text.split()[0] not in _NOT_PLACES
