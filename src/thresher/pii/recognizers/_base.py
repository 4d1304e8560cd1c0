"""Shared helpers for thresher's credential recognizers (Presidio ``PatternRecognizer`` style)."""

from __future__ import annotations

import math
from collections import Counter

import regex

# Credentials are case-sensitive by construction (``AKIA`` is not ``akia``), unlike Presidio's
# default flags which add IGNORECASE.
CASE_SENSITIVE = regex.DOTALL | regex.MULTILINE

# Values that stand in for a secret in docs and templates; reporting them is noise.
_PLACEHOLDER_WORDS = ("example", "xxxx", "****", "changeme", "your", "placeholder", "redacted")


def shannon_entropy(value: str) -> float:
    """Bits per character of ``value``'s character distribution."""
    if not value:
        return 0.0
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def looks_placeholder(value: str) -> bool:
    """True for ``${VAR}``, ``<password>``, ``xxxx`` and similar template stand-ins."""
    low = value.lower()
    if value[:1] in "$<{%" or value[-1:] in ">}%":
        return True
    if len(set(value)) <= 2:
        return True
    return any(word in low for word in _PLACEHOLDER_WORDS)


def mixed_alnum(value: str) -> bool:
    return any(c.isdigit() for c in value) and any(c.isalpha() for c in value)
