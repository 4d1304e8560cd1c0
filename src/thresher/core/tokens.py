"""Token counts and the token limit: what a record's counts are, and what to do over the limit.

Pure logic on numbers: the tokenizer itself (a Hugging Face ``tokenizer.json``) is loaded by
``thresher.stages.length``, which hands this module the token count of each segment (the text
of a document, or each turn's content, encoded alone without special tokens).

Truncation never cuts inside a turn: a conversation over the limit is cut back to its longest
prefix that ends with an assistant turn and fits, i.e. whole trailing exchanges are removed,
so what is left is still something to train on. A document cannot be truncated that way and
is dropped. Example::

    >>> decide(("user", "assistant", "user", "assistant"), (3, 4, 5, 6), 10, "truncate")
    LengthDecision(action='truncate', keep_turns=2, tokens=18, kept_tokens=7)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Literal

Action = Literal["keep", "truncate", "drop"]
REASON = "too_many_tokens"
ASSISTANT = "assistant"


@dataclasses.dataclass(frozen=True)
class LengthDecision:
    """What the limit does to one record: ``keep`` it whole, ``truncate`` it to its first
    ``keep_turns`` turns, or ``drop`` it. ``tokens`` counts the whole record, ``kept_tokens``
    what remains (equal to ``tokens`` when kept whole, 0 when dropped)."""

    action: Action
    keep_turns: int
    tokens: int
    kept_tokens: int


def fitting_prefix(roles: Sequence[str], counts: Sequence[int], max_tokens: int) -> int:
    """The number of turns in the longest prefix that ends with an assistant turn and holds
    at most ``max_tokens`` tokens; 0 when there is none."""
    best = 0
    total = 0
    for i, (role, n) in enumerate(zip(roles, counts, strict=True)):
        total += n
        if total > max_tokens:
            break
        if role == ASSISTANT:
            best = i + 1
    return best


def decide(
    roles: Sequence[str | None],
    counts: Sequence[int],
    max_tokens: int | None,
    on_overflow: str,
) -> LengthDecision:
    """The limit applied to a record whose segments (``roles``: None for a document's one
    segment) hold ``counts`` tokens each.

    Within the limit (or with no limit): ``keep``. Over it: ``drop`` with
    ``on_overflow: drop``; with ``truncate``, a conversation keeps its longest fitting prefix
    ending with an assistant turn (``truncate``), else, like a document, it is dropped.
    """
    tokens = sum(counts)
    if max_tokens is None or tokens <= max_tokens:
        return LengthDecision("keep", len(counts), tokens, tokens)
    is_chat = bool(roles) and roles[0] is not None
    if on_overflow == "truncate" and is_chat:
        keep = fitting_prefix([r or "" for r in roles], counts, max_tokens)
        if keep:
            return LengthDecision("truncate", keep, tokens, sum(counts[:keep]))
    return LengthDecision("drop", 0, tokens, 0)


def signals(roles: Sequence[str | None], counts: Sequence[int]) -> dict[str, float]:
    """The token signals of a record: ``tokens`` (the total) and, for a conversation,
    ``tokens_max_turn`` (the longest turn) and ``tokens_assistant`` (what an assistant-only
    loss trains on)."""
    out = {"tokens": float(sum(counts))}
    if roles and roles[0] is not None:
        out["tokens_max_turn"] = float(max(counts, default=0))
        out["tokens_assistant"] = float(
            sum(n for r, n in zip(roles, counts, strict=True) if r == ASSISTANT)
        )
    return out


def truncation_details(decision: LengthDecision, turns: int, max_tokens: int) -> dict[str, int]:
    """Lineage details of a truncation (numbers only): turns and tokens before and after."""
    return {
        "turns": turns,
        "turns_kept": decision.keep_turns,
        "turns_removed": turns - decision.keep_turns,
        "tokens": decision.tokens,
        "tokens_kept": decision.kept_tokens,
        "max_tokens": max_tokens,
    }


__all__ = [
    "REASON",
    "LengthDecision",
    "decide",
    "fitting_prefix",
    "signals",
    "truncation_details",
]
