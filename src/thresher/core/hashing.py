"""Content keys for exact deduplication and deterministic bucketing."""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable

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


# Separators that normalized text never holds (control characters are removed by normalize,
# and fold_text collapses whitespace), so that turn boundaries and roles cannot be forged by
# content: ("user", "a b") and ("user", "a"), ("user", "b") get different keys.
_ROLE_SEP = "\x1f"
_TURN_SEP = "\x1e"
PROMPT_ROLES = frozenset({"system", "user", "tool"})


def conversation_key(
    turns: Iterable[tuple[str, str]],
    prompt_only: bool = False,
    casefold: bool = False,
    strip_punctuation: bool = False,
) -> str:
    """sha256 hex of a conversation's folded turns, each with its role: the exact-duplicate
    key of a conversation. ``prompt_only``: only the non-assistant turns (one record per
    distinct prompt); a conversation without such turns keys on all its turns. Never equal
    to a document's ``content_key``."""
    pairs = list(turns)
    if prompt_only and any(role in PROMPT_ROLES for role, _ in pairs):
        pairs = [(role, text) for role, text in pairs if role in PROMPT_ROLES]
        kind = "prompt"
    else:
        kind = "conversation"
    folded = _TURN_SEP.join(
        role + _ROLE_SEP + fold_text(text, casefold, strip_punctuation) for role, text in pairs
    )
    return hashlib.sha256(f"{kind}{_TURN_SEP}{folded}".encode()).hexdigest()


def stable_bucket(key: str, buckets: int) -> int:
    """A bucket in ``[0, buckets)`` from ``key``, identical on every worker and run.

    Python's ``hash`` is salted per process, so it must never decide placement.
    """
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % max(1, buckets)
