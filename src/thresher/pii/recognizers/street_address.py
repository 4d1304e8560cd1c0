"""Street addresses (``1600 Pennsylvania Avenue NW, Washington, DC 20500``, ``Flat 2, 14 High
St``) and postal codes next to a state abbreviation. Reported as ``LOCATION``."""

from __future__ import annotations

from presidio_analyzer import Pattern, PatternRecognizer

from thresher.pii.recognizers._base import CASE_SENSITIVE

_SUFFIX = (
    r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Place|Pl|"
    r"Square|Sq|Terrace|Ter|Parkway|Pkwy|Highway|Hwy|Way|Circle|Cir|Trail|Trl|Crescent|"
    r"Close|Row|Alley|Plaza|Loop|Path|Pike|Walk|Gardens|Grove|Hill|Mews)"
)
_NAME = r"(?:[A-Z][a-z]+|[A-Z]{2,}|\d{1,3}(?:st|nd|rd|th))"
_STREET = (
    r"\b\d{1,6}[A-Za-z]?\s(?:[NSEW]\.?\s|North\s|South\s|East\s|West\s)?"
    rf"(?:{_NAME}\s){{1,4}}{_SUFFIX}\b\.?(?:\s(?:NW|NE|SW|SE|N|S|E|W)\b)?"
)
_UNIT = r"(?:,?\s(?:Apt\.?|Apartment|Suite|Ste\.?|Unit|Floor|Fl\.?|#)\s?[A-Za-z0-9\-]{1,6})?"
_CITY_STATE_ZIP = r"(?:,?\s(?:[A-Z][a-z]+(?:\s[A-Z][a-z]+){0,2}),?\s[A-Z]{2}\s\d{5}(?:-\d{4})?)?"
_US_STATE = (
    r"(?:AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|"
    r"NV|NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY)"
)


class StreetAddressRecognizer(PatternRecognizer):
    """House number + street name + street-type word, with an optional unit, city, state and
    ZIP; and a ZIP code directly after a US state abbreviation. Entity: ``LOCATION``."""

    PATTERNS = [
        Pattern("street_address", _STREET + _UNIT + _CITY_STATE_ZIP, 0.7),
        Pattern("state_zip", rf"(?<=\b{_US_STATE},?\s)\d{{5}}(?:-\d{{4}})?\b", 0.6),
    ]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="LOCATION",
            name="StreetAddressRecognizer",
            patterns=self.PATTERNS,
            context=["address", "live", "street", "zip", "postal"],
            supported_language=supported_language,
            global_regex_flags=CASE_SENSITIVE,
        )
