"""Names announced by their context: ``my name is Siiri``, ``my kid Lukas``, ``Directed by
Johannes Varvio``, ``Regards, Ann``. spaCy's small model misses many single or foreign names
that English syntax marks this plainly: ``Enrico shouted at Gary``, ``Franciska's kid``,
``Warrane, can I please speak to your boss?``."""

from __future__ import annotations

from presidio_analyzer import Pattern, PatternRecognizer

from thresher.pii.recognizers._base import CASE_SENSITIVE, hinted

_LABEL = r"(?!(?:Phone|Email|E-mail|Address|Tel|Mobile|Fax|Date|DOB|Age|Id|ID|Account)\b)"
_NAME = (
    rf"\p{{Lu}}[\p{{L}}'’\-]+(?:\s{_LABEL}(?:\p{{Lu}}[\p{{L}}'’\-]+|\p{{Lu}}\.?(?!\p{{L}}))){{0,3}}"
)
_SINGLE = r"\p{Lu}\p{Ll}[\p{L}'’\-]*"
_INTRO = (
    r"(?:my name is|my name's|name is|last name is|first name is|surname is|i am called|"
    r"i'm called|named|directed by|written by|produced by|signed|regards|sincerely|dear|"
    r"yours truly|cheers|(?:last |first |full |sur|account |patient |contact )?name\s?[:?])"
)
_KIN_NOUN = (
    r"(?:kid|child|son|daughter|wife|husband|partner|spouse|friend|boyfriend|girlfriend|"
    r"brother|sister|mother|father|mom|mum|dad|boss|colleague|cousin|uncle|aunt|nephew|niece|"
    r"grandson|granddaughter|grandmother|grandfather|grandma|grandpa|neighbou?r|manager|"
    r"landlord|tenant|client|patient|teacher|student)"
)
_KIN = rf"(?:my|his|her|our|their|your)\s{_KIN_NOUN}"
# Verbs whose subject or object is a person, not an organisation or a thing.
_ACTS = (
    r"(?:(?:shouted|yelled|screamed|whispered|smiled|laughed|sighed|nodded|winked|married)\b|"
    r"(?:lives|lived) (?:on|at|in|with)[ \t]+[\p{L}\d]|spent a year\b|had given\b)"
)
_ACTED_ON = (
    r"(?:(?:shouted|yelled|screamed|smiled|winked|waved|whispered) at|married|"
    r"named (?:him|her|them)|call me|calls me|called me|speak to|speak with|talk to|starring|"
    r"co-starring|featuring)"
)
# "Warrane, can I please speak to your boss?"
_ADDRESSED = r"(?=,[ \t](?:can|could|would|will|please|I|we|do|did|have|are|is|thank)\b)"
_NOT_NAMES_WORDS = (
    "The A An And Of In On At To For With By From Sir Madam Madame Team All Everyone There "
    "Customer Customers Support Sales Colleagues Friends Hiring Manager Mr Mrs Ms Dr "
    "Yes No Well So Now Okay Ok Hi Hello Hey Thanks Sorry Please However Also Then First "
    "Second Third Finally Sure Oh Look Listen Again Today Tomorrow Yesterday Alright Right "
    "Anyway Besides Still Otherwise Meanwhile Instead Sir Guys Folks Everybody Anyone Someone "
    "He She They We You It This That These Those Who What Why How When Where"
)
_NOT_NAMES = frozenset(_NOT_NAMES_WORDS.split())


class PersonContextRecognizer(PatternRecognizer):
    """A capitalised name after an introduction (``my name is``, ``directed by``, a letter's
    ``Dear``/``Regards,``) or a relation (``my kid``, ``her husband``). Only the name is
    reported. Entity: ``PERSON``."""

    PATTERNS = [
        Pattern("introduced_name", rf"(?i:(?<=\b{_INTRO}[,:]?\s{{1,4}})){_NAME}", 0.6),
        hinted(
            Pattern("related_name", rf"(?i:(?<=\b{_KIN},?\s)){_NAME}", 0.7),
            rf"(?i:\b{_KIN},?\s)",
        ),
        # "Franciska's kid", "Amanda's daughter"
        hinted(
            Pattern("relative_of", rf"\b{_NAME}(?=['’]s\s(?i:{_KIN_NOUN})\b)", 0.7),
            rf"['’]s\s(?i:{_KIN_NOUN})\b",
        ),
        # "Enrico shouted at Gary", "Megan lives on Via Tasso 129"
        hinted(Pattern("acting_name", rf"\b{_NAME}(?=\s{_ACTS})", 0.86), rf"\s{_ACTS}"),
        Pattern("acted_on_name", rf"(?i:(?<=\b{_ACTED_ON}\s)){_NAME}", 0.86),
        Pattern("addressed_name", rf"(?:(?<=^[ \t>]*)|(?<=[.!?][ \t]+)){_SINGLE}{_ADDRESSED}", 0.6),
    ]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="PERSON",
            name="PersonContextRecognizer",
            patterns=self.PATTERNS,
            supported_language=supported_language,
            global_regex_flags=CASE_SENSITIVE,
        )

    def validate_result(self, pattern_text: str) -> bool:
        first = pattern_text.split()[0]
        return first not in _NOT_NAMES and not first.endswith("ly")
