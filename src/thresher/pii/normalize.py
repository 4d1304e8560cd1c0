"""Canonical form of a PII value, so that the same value written differently ("JOHN SMITH",
"John  Smith"; "+1 (555) 010-0199", "5550100199") gets the same HMAC and surrogate."""

from __future__ import annotations

import re
import unicodedata

_DIGIT_TYPES = frozenset({"PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "US_BANK_NUMBER"})
_ALNUM_TYPES = frozenset(
    {"IBAN_CODE", "US_PASSPORT", "US_DRIVER_LICENSE", "UK_NHS", "ID_NUMBER", "US_NPI", "US_MBI"}
)
_NAME_PUNCT = re.compile(r"[^\w\s'\-]")
_SPACE = re.compile(r"\s+")


def normalize_value(entity_type: str, value: str) -> str:
    """NFKC, case-folded, whitespace collapsed; digits only for number-like types, letters and
    digits only for codes, punctuation dropped from names."""
    text = unicodedata.normalize("NFKC", value).strip()
    if entity_type in _DIGIT_TYPES:
        digits = "".join(c for c in text if c.isdigit())
        return digits or text.casefold()
    if entity_type in _ALNUM_TYPES:
        return "".join(c for c in text if c.isalnum()).upper()
    if entity_type == "PERSON":
        text = _NAME_PUNCT.sub(" ", text)
    if entity_type in ("PRIVATE_KEY", "API_KEY", "PASSWORD", "JWT"):
        return text  # secrets are case-sensitive
    return _SPACE.sub(" ", text).casefold()
