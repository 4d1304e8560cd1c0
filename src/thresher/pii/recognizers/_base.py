"""Shared helpers for thresher's recognizers (Presidio ``PatternRecognizer`` style): the
credential checks, and ``hinted`` patterns that run only where their cue occurs."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from typing import Any

import regex
from presidio_analyzer import Pattern

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


class HintedRegex:
    """A pattern's compiled regex behind a necessary condition on the whole text.

    Many of thresher's patterns cost a scan with backtracking at every capitalised word (a
    name followed by a cue several words on); the cue itself is a cheap literal scan. When the
    hint is found nowhere in the text the pattern cannot match, so ``finditer`` returns at
    once; otherwise the pattern runs as before. Stateless, so safe to share between threads.
    """

    def __init__(self, pattern: str, hint: str, flags: int) -> None:
        self._regex = regex.compile(pattern, flags=flags)
        self._hint = regex.compile(hint, flags=flags)

    def finditer(self, text: str, *args: object, **kwargs: object) -> Iterator[Any]:
        if self._hint.search(text) is None:
            return iter(())
        return self._regex.finditer(text, *args, **kwargs)


def hinted(pattern: Pattern, hint: str, flags: int = CASE_SENSITIVE) -> Pattern:
    """``pattern``, compiled for Presidio with ``flags`` (the recognizer's global flags) and
    behind ``hint``, a regex that matches somewhere in every text the pattern matches in."""
    # Presidio sets these two lazily on first use; its class leaves them typed as None.
    pattern.compiled_regex = HintedRegex(pattern.regex, hint, flags)  # type: ignore[assignment]
    pattern.compiled_with_flags = flags  # type: ignore[assignment]
    return pattern
