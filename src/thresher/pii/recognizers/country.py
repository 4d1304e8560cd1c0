"""Country and territory names in English, as ``LOCATION``.

spaCy's small model misses many of them ("Southern Tunisia"). The list comes from the
installed ``phonenumbers`` package (a Presidio dependency): its English display names of every
region it supports, so nothing is downloaded and nothing is hand-picked from any test set.
"""

from __future__ import annotations

import regex
from presidio_analyzer import Pattern, PatternRecognizer

from thresher.pii.recognizers._base import CASE_SENSITIVE


def country_names() -> list[str]:
    import phonenumbers
    from phonenumbers import geocoder

    names = set()
    for region in phonenumbers.SUPPORTED_REGIONS:
        # geocoder's own helper; public API only exposes it per number
        name = geocoder._region_display_name(region, "en")
        if name and "," not in name:
            names.add(name)
    return sorted(names, key=lambda n: (-len(n), n))


class CountryRecognizer(PatternRecognizer):
    """Whole-word, case-sensitive country names (longest first). Entity: ``LOCATION``."""

    def __init__(self, supported_language: str = "en") -> None:
        alternation = "|".join(regex.escape(n) for n in country_names())
        super().__init__(
            supported_entity="LOCATION",
            name="CountryRecognizer",
            patterns=[
                Pattern("country", rf"(?<![\p{{L}}\-])(?:{alternation})(?![\p{{L}}\-])", 0.6)
            ],
            supported_language=supported_language,
            global_regex_flags=CASE_SENSITIVE,
        )
