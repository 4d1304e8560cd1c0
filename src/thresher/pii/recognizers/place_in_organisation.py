"""Place names inside the names of courts, councils, police forces and prosecutors' offices:
``the Leeds District Court``, ``Birmingham City Council``, ``the Istanbul police
headquarters``, ``the Diyarbakır State Security Court``. Only the place is reported, as
``LOCATION``: legal narrative names the institution for its town, and the town identifies the
people in it. ``pii.places_in_organisations: false`` turns this recognizer off."""

from __future__ import annotations

from presidio_analyzer import Pattern, PatternRecognizer

from thresher.pii.recognizers._base import CASE_SENSITIVE, hinted

# Words that qualify an institution but are not places ("the Supreme Court", "the Regional
# Court", "the European Court").
_QUALIFIER = (
    r"(?:The|A|An|This|That|Supreme|High|Higher|Constitutional|Federal|European|National|"
    r"Central|Regional|Provincial|District|County|City|Town|Municipal|Borough|Metropolitan|"
    r"Magistrates|Magistrates'|Crown|Administrative|Assize|Criminal|Civil|Family|Juvenile|"
    r"Labour|Labor|Commercial|State|Security|Military|Appeal|Appeals|Court|Courts|Council|"
    r"Police|Chief|Public|Prosecutor|General|Royal|Local|Parish|Ministry|Department|Office|"
    r"Prison|Special|Heavy|Penal|Peace|Cassation|Government|Governor|Governor's|"
    r"In|On|At|From|To|By|For|With|And|But|Or|Of|He|She|It|They|We|I|His|Her|Their|Its|"
    r"Mr|Mrs|Ms|Dr|Judge|Justice|January|February|March|April|May|June|July|August|"
    r"September|October|November|December|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|"
    r"Sunday)"
)
_WORD = rf"(?!{_QUALIFIER}\b)\p{{Lu}}[\p{{L}}'’\-]+"
_PLACE = rf"{_WORD}(?:[ \t](?:(?:upon|on|de|del|am|an|der)[ \t])?{_WORD}){{0,2}}"
# What follows the place: the institution.
_INSTITUTION = (
    r"(?:(?:District|Regional|Provincial|County|City|Municipal|Town|Borough|Magistrates'?|"
    r"Crown|Administrative|Assize|Criminal|Civil|Family|Juvenile|Labour|Labor|Commercial|"
    r"Peace|Heavy[ \t]Penal|Juvenile[ \t]Penal|State[ \t]Security|Military|Appeal|Appeals|"
    r"Sheriff|Circuit|Superior|Youth|Employment|Coroner'?s)[ \t](?:Court|Tribunal)|"
    r"Court[ \t]of[ \t]Appeal|(?:City|County|Town|District|Borough|Municipal|Metropolitan|"
    r"Parish|Regional|Provincial)[ \t](?:Council|Municipality|Corporation|Assembly)|"
    r"(?:[Pp]olice|[Gg]endarmerie|[Ss]ecurity)[ \t](?:[Hh]eadquarters|HQ|[Ss]tation|"
    r"[Dd]epartment|[Dd]irectorate|[Cc]ommand|[Ff]orce|[Ss]ervice|[Cc]onstabulary)|"
    r"(?:Chief[ \t])?(?:Public[ \t])?Prosecutor'?s?[ \t]Office|"
    r"[Pp]rison|Constabulary|Police)\b"
)


class PlaceInOrganisationRecognizer(PatternRecognizer):
    """The place name (one to three capitalised words) before a court, council, police or
    prosecutor's office. Entity: ``LOCATION``."""

    PATTERNS = [
        hinted(
            Pattern("place_in_institution", rf"\b{_PLACE}(?=[ \t]{_INSTITUTION})", 0.6),
            rf"[ \t]{_INSTITUTION}",
        )
    ]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="LOCATION",
            name="PlaceInOrganisationRecognizer",
            patterns=self.PATTERNS,
            supported_language=supported_language,
            global_regex_flags=CASE_SENSITIVE,
        )
