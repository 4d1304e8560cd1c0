"""Names after the titles of an office (``Employment Judge Hargreaves``, ``Justice Sotomayor``,
``DCI Farrant``, ``Sgt. Mulroney``, ``NP Delacroix``) and judges' post-nominal titles
(``Arden LJ``, ``Popplewell J``).

Judgments and notes name people by their office more than by ``Mr`` or ``Dr``
(``titled_person``), and spaCy's small model finds the name after an office title in one
sentence and misses it in the next. Both the title and the name must be written with an
initial capital (``Judge Okonkwo``): an office word in a shouted note (``RN AWARE``,
``OFFICER NOTIFIED``) is followed by an ordinary word as often as by a name, so all-capital
text is left to NER on its case-restored view. Words that name a body or a post rather than a
person (``Justice Department``, ``Inspector General``, ``Schedule J``) are not reported.
"""

from __future__ import annotations

from presidio_analyzer import Pattern, PatternRecognizer

from thresher.pii.recognizers._base import CASE_SENSITIVE, hinted
from thresher.pii.recognizers.titled_person import _INITIALS
from thresher.pii.recognizers.titled_person import _NOT_NAMES as _FUNCTION_WORDS

_OFFICE = (
    r"(?:Judge|Justice|Magistrate|Coroner|Registrar|Sheriff|Senator|Congressman|"
    r"Congresswoman|Councillor|Councilman|Councilwoman|Alderman|Mayor|Governor|Commissioner|"
    r"Inspector|Superintendent|Sergeant|Sgt|Constable|Officer|Detective|Det|Lieutenant|Lt|"
    r"Captain|Capt|Corporal|Cpl|Trooper|Honourable|Honorable|Hon|Rabbi|Imam|Pastor|Reverend|"
    r"HHJ|DCI|DSI|RN|NP|LPN|CNA)"
)
# (Not the ambiguous abbreviations: PC, DC, DS and DI precede "Gamer", "Comics", "Lite" and
# "Water" as often as a constable's name.)
_WORD = r"(?:[A-Z][a-z]+(?:[\-'’][A-Z]?[a-z]+)?)"
# Judges' post-nominals: J (a judge), JJ, LJ, LJJ, CJ, JSC, SCJ, JA.
_POST_NOMINAL = r"(?:J|JJ|LJ|LJJ|CJ|JSC|SCJ|JA)"

# Words after an office title that name a body, a post or a place in a document, not a person.
_NOT_NAMES_TEXT = (
    "This That Department Ministry Ministers Minister Secretary Court Courts Division Circuit "
    "Chamber Chambers Committee Council Commission Office Bureau Board Agency Service Services "
    "General Act Rules Reform System Centre Center Fund Report Unit Team Station Branch Inquiry "
    "Review Panel Tribunal Registry Law Laws Order Orders Mr Mrs Ms Mx Miss Dr Prof Sir Lord "
    "Lady Schedule Appendix Annex Exhibit Part Section Form Table Figure Plan Block Room Ward "
    "Bed Grade Group Zone Level Wing Building Gate Row Lot Flat Apartment Apt Suite Type Class "
    "Category Model Vitamin Hepatitis Article Paragraph Rule Count Box Line Page Note Notes "
    "Chief Deputy Assistant Senior Junior Acting District Circuit Employment Magistrates Crown "
    "County Supreme Federal State National High Appeal Appeals Judges Program Programme "
    "Certification Licensure Exam Staffing Role Position Student Students"
)
# An office word after an office title is a title too ("Detective Inspector Jones"): the name
# is the word after the last title.
NOT_NAMES = (
    frozenset(_NOT_NAMES_TEXT.split()) | _FUNCTION_WORDS | frozenset(_OFFICE[3:-1].split("|"))
)


class OfficeTitledPersonRecognizer(PatternRecognizer):
    """A capitalised name (initials allowed, one to three words) after the title of an
    office: judicial (``Judge``, ``Justice``, ``Magistrate``, ``HHJ``, ``Coroner``,
    ``Registrar``), police (``Officer``, ``Detective``, ``Sgt``, ``DCI``, ``Inspector``),
    political (``Senator``, ``Mayor``, ``Councillor``), religious (``Rabbi``, ``Pastor``),
    clinical (``RN``, ``NP``, ``LPN``, ``CNA``) and ``Hon``/``Honorable``; and the surname
    before a judge's post-nominal (``Arden LJ``). Only the name is reported. Entity:
    ``PERSON``."""

    PATTERNS = [
        hinted(
            Pattern(
                "office_name",
                rf"(?<=\b{_OFFICE}\.?[ \t]{{1,2}})(?!{_OFFICE}\b)(?:{_INITIALS}[ \t]?)?{_WORD}"
                rf"(?:[ \t]{_WORD}){{0,2}}\b",
                0.85,
            ),
            rf"\b{_OFFICE}\.?[ \t]",
        ),
        Pattern(
            "judge_post_nominal",
            rf"\b{_WORD}(?=[ \t]{_POST_NOMINAL}\b(?![.'’][ \t]?[A-Z][a-z]))",
            0.6,
        ),
    ]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="PERSON",
            name="OfficeTitledPersonRecognizer",
            patterns=self.PATTERNS,
            supported_language=supported_language,
            global_regex_flags=CASE_SENSITIVE,
        )

    def validate_result(self, pattern_text: str) -> bool:
        words = pattern_text.replace(".", ". ").split()
        return bool(words) and words[0] not in NOT_NAMES
