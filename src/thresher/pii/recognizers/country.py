"""Country and territory names in English, as ``LOCATION``.

spaCy's small model misses many of them ("Southern Tunisia"). The list comes from the
installed ``phonenumbers`` package (a Presidio dependency): its English display names of every
region it supports, so nothing is downloaded and nothing is hand-picked from any test set.

The names are matched through a prefix tree (``literal_trie``): the ``regex`` module tries a
flat alternation of some 240 names one by one at every position, and the tree finds the same
matches about three times faster (a tenth of a second per twelve long documents).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import regex
from presidio_analyzer import Pattern, PatternRecognizer

from thresher.pii.recognizers._base import CASE_SENSITIVE


def region_names() -> dict[str, dict[str, str]]:
    """``phonenumbers``' display names of its regions per language (``geodata/locale.py``'s
    ``LOCALE_DATA``), read without importing the ``phonenumbers.geodata`` package: that import
    also loads every per-prefix geocoding table, about 1 s and 100 MB in each process that
    builds the registry."""
    import phonenumbers

    path = Path(phonenumbers.__file__).parent / "geodata" / "locale.py"
    spec = importlib.util.spec_from_file_location("phonenumbers.geodata.locale", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"phonenumbers' region names are missing ({path})")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.LOCALE_DATA)


def country_names() -> list[str]:
    """The English display names of every region ``phonenumbers`` supports (as its geocoder's
    ``_region_display_name(region, "en")`` gives them), longest first."""
    import phonenumbers

    data = region_names()
    names = set()
    for region in phonenumbers.SUPPORTED_REGIONS:
        per_language = data.get(region, {})
        name = per_language.get("en", "")
        if name.startswith("*"):  # "*xx": the name is the one held for language xx
            name = per_language.get(name[1:], "")
        if name and "," not in name:
            names.add(name)
    return sorted(names, key=lambda n: (-len(n), n))


def literal_trie(words: list[str]) -> str:
    """A regex for the same strings as the alternation of ``words`` longest first, written as
    a prefix tree: ``["Niger", "Nigeria"]`` gives ``Niger(?:ia)?``.

    At each node the branches start with different characters, so at most one can go on;
    a word that ends inside the tree is the branch's optional tail, tried after the longer
    words. With backtracking into the optional tails, the tree matches the longest word that
    lets the rest of the pattern match, as the longest-first alternation does. Case-sensitive
    use only (with IGNORECASE two branches could both go on).

    >>> literal_trie(["Niger", "Nigeria", "Chad"])
    '(?:(?:Chad|Niger(?:ia)?))'
    """
    tree: dict[str, dict] = {}
    for word in words:
        node = tree
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}  # a word ends here

    def emit(node: dict[str, dict]) -> str:
        branches = [regex.escape(ch) + emit(sub) for ch, sub in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body  # a shorter word may end here

    return f"(?:{emit(tree)})"


class CountryRecognizer(PatternRecognizer):
    """Whole-word, case-sensitive country names (longest first). Entity: ``LOCATION``."""

    def __init__(self, supported_language: str = "en") -> None:
        names = literal_trie(country_names())
        super().__init__(
            supported_entity="LOCATION",
            name="CountryRecognizer",
            patterns=[Pattern("country", rf"(?<![\p{{L}}\-]){names}(?![\p{{L}}\-])", 0.6)],
            supported_language=supported_language,
            global_regex_flags=CASE_SENSITIVE,
        )
