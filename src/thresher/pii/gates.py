"""Cheap gates: an entity type's recognizers run on a segment only when its gate passes.

A phone number needs 7 digits, an e-mail address an ``@``. Each gate is a necessary
condition of every recognizer of that type in thresher (Presidio's and thresher's own), so
skipping a gated type costs no recall; types without a gate (NER types, the user's YAML
types) always run.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

import regex

_DIGITS = re.compile(r"\d")
# Seven digits with at most three separator characters between neighbours: every phone
# number any of the phone recognizers accepts has such a run.
_PHONEISH = re.compile(r"(?:\d[\s().\-/]{0,3}){6}\d")
# A short number after a pager, beeper, fax or extension cue (recognizers.cued_phone).
_PHONE_CUE = re.compile(
    r"(?i:pager|beeper|bleep|pgr|fax|facsimile|ext|extn|extension)|PG|Pg|\d[ \t]?[xX][ \t]?\d"
)

PHONEISH = _PHONEISH  # also read by recognizers.line_phone


# A URL (every pattern of Presidio's ``UrlRecognizer``) has a host character, a dot and the
# first letter of a top-level domain; same engine and flags as the recognizer's patterns.
_URLISH = regex.compile(r"[a-z0-9.\-][.][a-z]", regex.DOTALL | regex.MULTILINE | regex.IGNORECASE)

# Every IPv4 pattern of Presidio's ``IpRecognizer`` has an ASCII digit, a dot and a digit (IPv6
# ones a colon).
_DIGIT_DOT_DIGIT = re.compile(r"[0-9]\.[0-9]")

# entity type -> (segment text, number of digits in it) -> may the type occur?
GATES: dict[str, Callable[[str, int], bool]] = {
    "EMAIL_ADDRESS": lambda s, n: "@" in s,
    "PHONE_NUMBER": lambda s, n: (
        (n >= 7 and _PHONEISH.search(s) is not None)
        or (n >= 3 and _PHONE_CUE.search(s) is not None)
    ),
    "CREDIT_CARD": lambda s, n: n >= 12,
    "US_SSN": lambda s, n: n >= 9,
    "US_BANK_NUMBER": lambda s, n: n >= 8,
    "US_DRIVER_LICENSE": lambda s, n: n >= 1,
    "US_PASSPORT": lambda s, n: n >= 8,
    "US_ITIN": lambda s, n: n >= 9,
    "UK_NHS": lambda s, n: n >= 10,
    "IBAN_CODE": lambda s, n: n >= 2,
    "IP_ADDRESS": lambda s, n: (n >= 4 and _DIGIT_DOT_DIGIT.search(s) is not None) or ":" in s,
    "URL": lambda s, n: _URLISH.search(s) is not None,
    "CRYPTO": lambda s, n: n >= 1,
    "MEDICAL_LICENSE": lambda s, n: n >= 1,
    "API_KEY": lambda s, n: n >= 1 or "_" in s or "-" in s,
    "PASSWORD": lambda s, n: ":" in s or "=" in s,
    "JWT": lambda s, n: "eyJ" in s,
    "ID_NUMBER": lambda s, n: n >= 3,
    "AGE_OVER_89": lambda s, n: n >= 2,
    "US_NPI": lambda s, n: n >= 10,
    "US_MBI": lambda s, n: n >= 5,
    "US_HEALTH_INSURANCE_MEMBER_ID": lambda s, n: n >= 1,
    "MAC_ADDRESS": lambda s, n: ":" in s or "-" in s or "." in s,
    "UUID": lambda s, n: "-" in s,
}


def gate(entities: Iterable[str], text: str) -> list[str]:
    """The types of ``entities`` (in order) that may occur in ``text``.

    >>> gate(["PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER"], "call Ann at 212 555 0134")
    ['PERSON', 'PHONE_NUMBER']
    """
    n_digits = len(_DIGITS.findall(text))
    return [e for e in entities if e not in GATES or GATES[e](text, n_digits)]
