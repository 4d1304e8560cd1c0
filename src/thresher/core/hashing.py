"""Content keys for exact deduplication and deterministic bucketing."""

from __future__ import annotations

import hashlib
import unicodedata

_PUNCT_CATEGORIES = frozenset({"Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sk", "Sm", "So", "Sc"})


def fold_text(text: str, casefold: bool = False, strip_punctuation: bool = False) -> str:
    """The form of ``text`` that exact dedup compares. Whitespace runs always collapse."""
    if casefold:
        text = text.casefold()
    if strip_punctuation:
        text = "".join(" " if unicodedata.category(c) in _PUNCT_CATEGORIES else c for c in text)
    return " ".join(text.split())


def content_key(text: str, casefold: bool = False, strip_punctuation: bool = False) -> str:
    """sha256 hex of the folded text: the exact-duplicate key."""
    folded = fold_text(text, casefold=casefold, strip_punctuation=strip_punctuation)
    return hashlib.sha256(folded.encode("utf-8")).hexdigest()


def stable_bucket(key: str, buckets: int) -> int:
    """A bucket in ``[0, buckets)`` from ``key``, identical on every worker and run.

    Python's ``hash`` is salted per process, so it must never decide placement.
    """
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % max(1, buckets)
