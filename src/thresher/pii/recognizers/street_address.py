"""Street addresses, US and international (``1600 Pennsylvania Avenue NW, Washington, DC
20500``; ``Søndergade 52, Apt. 656, Brønderslev``; ``Rua do Arenque 1634``), reported as
``LOCATION``. Presidio has no address recognizer and spaCy's small model rarely tags one."""

from __future__ import annotations

from typing import Any

import regex
from presidio_analyzer import Pattern, PatternRecognizer, RecognizerResult

from thresher.pii.recognizers._base import CASE_SENSITIVE, hinted

_W = r"\p{L}[\p{L}'’\-]*\.?"
_CAP = r"\p{Lu}[\p{L}'’\-]*\.?"
_TYPE = (
    r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Place|Pl|"
    r"Square|Sq|Terrace|Ter|Parkway|Pkwy|Highway|Hwy|Way|Circle|Cir|Trail|Crescent|Close|Row|"
    r"Alley|Plaza|Loop|Walk|Gardens|Grove|Mews|Freeway|Fwy|Str|Straße|Strasse|Platz|Allee|Gasse|"
    # written in capitals (court dockets, forms); not the abbreviations that are also clinical
    # shorthand in shouted notes (DR, CT, ST without its dot, PL) nor words of ordinary
    # phrases ("LINE IN PLACE", "6 MINUTE WALK", "2 HOUR DRIVE")
    r"STREET|ST\.|AVENUE|AVE|ROAD|RD|BOULEVARD|BLVD|LANE|HIGHWAY|HWY|PARKWAY|PKWY|FREEWAY|"
    r"PLAZA|CIRCLE|TERRACE|TRAIL)"
)
# A word of a street name: a word, or an ordinal ("15th", "3RD")
_SW = rf"(?:{_W}|\d{{1,3}}(?:st|nd|rd|th|ST|ND|RD|TH)\.?)"
# Compound street names of northern and central Europe end in their street word.
_COMPOUND_END = (
    r"(?:gata|gatan|vägen|väg|vej|gade|vei|veien|veg|vegen|stræde|straße|strasse|weg|"
    r"laan|straat|katu|tie|utca|gasse|platz|allee|stig|gränd|polku|kuja)"
)
_COMPOUND = rf"\p{{L}}+{_COMPOUND_END}"
_PREFIX = (
    r"(?:Rue|Rua|Calle|Carrer|Via|Viale|Avenida|Av\.|Avenue|Piazza|Plaza|Praça|Camino|Rambla|"
    r"Boulevard|Ulica|Ul\.|ul\.|Av|Avda\.|Rúa|C/|Odos|Οδός)"
)
_CONNECTOR = r"(?:de|del|de la|da|do|dos|das|di|du|la|le|van|von|der|den|ten|nad|pod|upon|on)"
# Street words written after the name and before the house number (central/northern Europe):
# "Villacher Strasse 89", "Hegyalja út 98", "Csabai kapu 39".
_EU_TYPE = (
    r"(?:[Ss]tra(?:ss|ß)e|[Ss]tr\.|[Gg]asse|[Ww]eg|[Aa]llee|[Pp]latz|[Rr]ing|[Dd]amm|[Uu]fer|"
    r"út|útja|utca|u\.|kapu|tér|körút|sor|köz|[Vv]ej|[Gg]ade|[Vv]ei|[Vv]eien|[Gg]ata|[Gg]atan|"
    r"[Vv]ägen|[Ss]traat|[Ll]aan|[Pp]lein|[Kk]ade|[Gg]racht|[Uu]lica|[Nn]ám\.|náměstí|třída)"
)
_PLACE_WORD = rf"(?:{_CAP}|\d{{1,5}}\.?)"
# "the corner of Csabai kapu 39. and Mathias Pass", "the corner of 159 X str and Y Union"
_CORNER_PART = rf"{_PLACE_WORD}(?:[ \t](?!and\b){_W}){{0,4}}?(?:[ \t]\d{{1,5}}\.?)?"
# Where a street name with only a house number is plainly an address: "lives on Pod Floriánem
# 1677", "the bus station is on Joaquin Suarez 2906", "drops you off at Cheb 2".
_STREET_CUE = (
    r"(?:lives?|living|lived|located|situated|stays?|staying|side of|drops? you off|"
    r"(?:station|office|offices|shop|store|house|home|apartment|flat|restaurant|hotel|"
    r"entrance|school|clinic) (?:is|are))[ \t](?:on|at|in)?"
)
# US military mail: "Unit 1009 Box 0219 DPO AP 51065", "PSC 3294, Box 9168 APO AA 61487",
# "USNV Botolen FPO AE 12382".
_MILITARY = (
    r"(?i:\b(?:(?:unit|psc|cmr)[ \t]\d{3,5},?[ \t]box[ \t]\d{3,5}|"
    r"(?:usns|usnv|uss|uscgc)[ \t]\p{L}+)[ \t]*,?[ \t]*\n?[ \t]*(?:apo|fpo|dpo)[ \t](?:aa|ae|ap)"
    r"[ \t]\d{5}\b)"
)
_UNIT = (
    r"(?:Apt\.?|Apartment|Suite|Ste\.?|Flat|PSC|Postbox|P\.?O\.? Box|APT\.?|SUITE|STE\.?)"
    r"\s?#?\d{1,5}[A-Za-z]?"
)
_DIRECTION = r"(?:\s(?:NW|NE|SW|SE|N|S|E|W)\b)?"
_US_STATE = (
    r"(?:AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|"
    r"NV|NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY)"
)
# What may follow an address on the same line or the next: a unit, a town or region written
# with capitals, a postal code. Stops at sentence punctuation.
_TAIL_BODY = (
    rf"(?:{_UNIT}|\#\d{{1,5}}[A-Za-z]?\b|"
    rf"\d{{1,3}}(?:st|nd|rd|th|ST|ND|RD|TH)[ \t](?:Floor|FLOOR)\b|"
    rf"\p{{Lu}}[\p{{L}}'’\-]+(?:[ \t](?:{_CONNECTOR}[ \t])?"
    r"\p{Lu}[\p{L}'’\-]+){0,2}|\d{4,5}(?:-\d{3,4})?|[A-Z]\d[A-Z] ?\d[A-Z]\d)"
)
# A quoted or bulleted block repeats its line prefix: "> 12 Main St\n> Springfield".
_LINE_PREFIX = r"(?:[>•*?\-]{1,3}[ \t]*)?"
_TAIL = regex.compile(rf"[ \t]*,?[ \t]*(?:\n[ \t]*{_LINE_PREFIX})?{_TAIL_BODY}", CASE_SENSITIVE)
# Across one blank line too: address blocks are often written one part per paragraph.
_TAIL_BLOCK = regex.compile(
    rf"[ \t]*,?[ \t]*(?:\n[ \t]*{_LINE_PREFIX}){{0,2}}{_TAIL_BODY}", CASE_SENSITIVE
)
_LEADING_CODE = regex.compile(r"(?<![\w.,\-])\d{3,6}[ \t]+$")
_NOT_TAIL_WORDS = (
    "The A An And But Or If I We You He She They It This That In On At For To From "
    "Could Would Please Thanks Thank Is Was Are"
)
_NOT_TAIL = frozenset(_NOT_TAIL_WORDS.split())
_NOT_TAIL_WORD = rf"(?!(?:{'|'.join(sorted(_NOT_TAIL))})\b)"


class StreetAddressRecognizer(PatternRecognizer):
    """House number + street name + street word (US/UK style, ordinals and capitals too:
    ``1100 15th Street NW``, ``300 BOOTH STREET``), compound or prefixed European street names
    with a house number, postcode + street + number, units (``Apt. 4``), a US ZIP after a state
    abbreviation and the town before them (``Anchorage, AK 99501``); each match is then
    extended over a following unit (``#1150``, ``10th Floor``), town and postal code. Entity:
    ``LOCATION``."""

    PATTERNS = [
        Pattern(
            "number_street_type",
            # not "St" as Saint: "in 1998 to St Brigid's Hospital"
            rf"\b\d{{1,6}}[A-Za-z]?\s(?:{_SW}\s){{1,4}}{_TYPE}(?:\b|(?<=\.))"
            rf"(?!\.?[ \t]\p{{Lu}}\p{{L}}+['’]s\b)\.?{_DIRECTION}",
            0.7,
        ),
        hinted(
            Pattern(
                "compound_street_number",
                rf"\b(?:{_CAP}\s){{0,2}}{_COMPOUND}\s\d{{1,5}}[A-Za-z]?\b",
                0.6,
            ),
            rf"(?<={_COMPOUND_END})\s\d",
        ),
        Pattern(
            "prefix_street_number", rf"\b{_PREFIX}\s(?:{_W}\s){{1,4}}\d{{1,5}}[A-Za-z]?\b", 0.6
        ),
        Pattern(
            "postcode_street_number",
            rf"\b\d{{3,6}}\s{_CAP}(?:\s{_W}){{0,3}}\s\d{{1,4}}[A-Za-z]?\b",
            0.5,
        ),
        Pattern(
            "number_prefix_street",
            rf"\b\d{{1,5}}[A-Za-z]?\s(?i:{_PREFIX}|rue|avenue|avenida|via|calle|rua)\s"
            rf"(?:(?:{_CONNECTOR}|des|d')\s)?{_CAP}(?:\s(?:(?:{_CONNECTOR}|des)\s)?{_CAP}){{0,3}}",
            0.6,
        ),
        hinted(
            Pattern(
                "street_type_number",
                rf"\b(?:{_CAP}\s){{1,3}}{_EU_TYPE}\s\d{{1,5}}[A-Za-z]?\b\.?",
                0.6,
            ),
            rf"(?<={_EU_TYPE})\s\d",
        ),
        Pattern(
            "corner",
            rf"(?i:\b(?:the\s)?corner\sof\s){_CORNER_PART}\sand\s{_CORNER_PART}\b",
            0.6,
        ),
        Pattern(
            "cued_street_number",
            rf"(?i:(?<=\b{_STREET_CUE}[ \t]))(?:the[ \t])?{_CAP}(?:[ \t](?:{_CONNECTOR}[ \t])?"
            rf"{_CAP}){{0,3}}[ \t]\d{{1,5}}[A-Za-z]?\b",
            0.7,
        ),
        Pattern("military", _MILITARY, 0.7),
        Pattern("unit", rf"\b{_UNIT}\b", 0.45),
        Pattern(
            "labelled_postal_code",
            r"(?i:(?<=\b(?:zip|postal|post|postcode)[ \t]?(?:code)?[ \t]?(?:is|:|#|no\.?)?"
            r"[ \t]{0,3}))"
            r"\d{3,5}(?:[ \-]\d{2,4})?(?:[ \t]?[A-Z]{2}\b)?",
            0.6,
        ),
        Pattern("state_zip", rf"(?<=\b{_US_STATE},?\s)\d{{5}}(?:-\d{{4}})?\b", 0.6),
        # the town of a "Town, ST 12345" line: "Anchorage, AK 99501", "LAS VEGAS, NV 89101"
        hinted(
            Pattern(
                "town_state_zip",
                rf"\b(?:{_NOT_TAIL_WORD}{_CAP}[ \t]){{0,2}}{_NOT_TAIL_WORD}{_CAP}"
                rf"(?=[ \t]?,[ \t]{{0,2}}{_US_STATE},?[ \t]{{1,2}}"
                rf"\d{{5}}(?:-\d{{4}})?\b)",
                0.6,
            ),
            rf",[ \t]{{0,2}}{_US_STATE},?[ \t]{{1,2}}\d{{5}}",
        ),
    ]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="LOCATION",
            name="StreetAddressRecognizer",
            patterns=self.PATTERNS,
            context=["address", "live", "lives", "street", "zip", "postal", "moved", "located"],
            supported_language=supported_language,
            global_regex_flags=CASE_SENSITIVE,
        )

    def validate_result(self, pattern_text: str) -> bool:
        return pattern_text.split(" ")[0] not in _NOT_TAIL

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: Any = None, regex_flags: Any = None
    ) -> list[RecognizerResult]:
        results = super().analyze(text, entities, nlp_artifacts, regex_flags)
        for r in results:
            r.end = self._extend(text, r.end)
            # a postcode written before the address: "17151 2450 Crown St", "233 Erzsébet tér 19."
            m = _LEADING_CODE.search(text, max(0, r.start - 12), r.start)
            if m:
                r.start = m.start()
        return results

    @staticmethod
    def _extend(text: str, end: int, tail: Any = _TAIL) -> int:
        for _ in range(5):
            m = tail.match(text, end)
            if not m:
                break
            word = m.group(0).strip(" \t,\n").split(" ")[0]
            if word in _NOT_TAIL:
                break
            end = m.end()
        return end


def extend_address(text: str, end: int) -> int:
    """Where an address ending at ``end`` really ends when the whole document is in view: over
    a following unit, town and postcode, across at most one blank line per step."""
    return StreetAddressRecognizer._extend(text, end, _TAIL_BLOCK)
