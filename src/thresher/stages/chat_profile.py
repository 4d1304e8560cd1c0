"""``ProfileConversations``: the run profile of conversation records, as summed statistics.

In: the records read, the records kept and the lineage (``Fate``), as a tuple of three
PCollections. Out: ``(key, count)`` statistics (keys from :mod:`thresher.core.statkeys`),
summed with the rest of the run's stats into the manifest's ``stats``; documents contribute
nothing. Per conversation read (phase ``input``) and kept (``kept``): one count, its turns, the
words of each assistant response, and when the token-length stage set them the signals
``tokens`` and ``tokens_assistant``. Per drop whose lineage details name the turn's ``role``
(a turn decided it) or the chat rule set (a rule on the whole conversation: role
``conversation``): one count by reason and role. Numbers only, never text; deterministic.

``section(stats)`` turns those sums into the manifest's ``conversations`` section (None when
the run read no conversation).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import apache_beam as beam
from apache_beam.pvalue import PCollection

from thresher.core import statkeys
from thresher.core.profile import size_bucket
from thresher.records import Document, Fate

ASSISTANT = "assistant"
# a drop decided by a rule on the whole conversation, not by one turn
WHOLE = "conversation"
# the chat rule set's name in the lineage details of its drops (thresher.core.chat_quality)
CHAT_RULE_SET = "chat"
# the token-length stage's signals (thresher.stages.length): measure -> signal
TOKEN_SIGNALS = {"tokens": "tokens", "assistant_tokens": "tokens_assistant"}


def count_bucket(n: int) -> str:
    """Words and tokens: upper edges 1, 2, 4, ... 2^24 (``<1`` holds the empty ones),
    zero-padded so buckets sort as strings too."""
    if n < 1:
        return f"{1:09d}"
    return f"{min(1 << n.bit_length(), 1 << 25):09d}"


def conversation_stats(doc: Document, phase: str) -> Iterable[tuple[str, int]]:
    """The statistics of one record at ``phase`` (``input`` or ``kept``); none for a
    document."""
    if not doc.is_chat:
        return
    yield statkeys.conversations(phase), 1
    yield statkeys.chat("turns", phase, size_bucket(len(doc.messages))), 1
    for turn in doc.messages:
        if turn.role == ASSISTANT:
            words = len(turn.content.split())
            yield statkeys.chat("response_words", phase, count_bucket(words)), 1
    for measure, name in TOKEN_SIGNALS.items():
        value = doc.signals.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            yield statkeys.chat(measure, phase, count_bucket(int(value))), 1


def drop_stats(fate: Fate) -> Iterable[tuple[str, int]]:
    """One count by reason and role for a drop that a conversation's turn (or the chat rules
    on the whole conversation) decided."""
    if fate.fate != "dropped" or not fate.details or not fate.reason:
        return
    role = fate.details.get("role")
    if isinstance(role, str) and role:
        yield statkeys.chat_dropped(fate.reason, role), 1
    elif fate.details.get("rule_set") == CHAT_RULE_SET:
        yield statkeys.chat_dropped(fate.reason, WHOLE), 1


class ProfileConversations(beam.PTransform):
    """``(read records, kept records, lineage) -> (key, count)`` conversation statistics."""

    def expand(self, pcolls: tuple[PCollection, PCollection, PCollection]) -> PCollection:
        read_docs, kept, lineage = pcolls
        return (
            read_docs | "InputConversations" >> beam.FlatMap(conversation_stats, "input"),
            kept | "KeptConversations" >> beam.FlatMap(conversation_stats, "kept"),
            lineage | "ConversationDrops" >> beam.FlatMap(drop_stats),
        ) | "ConversationStats" >> beam.Flatten()


def _count(value: float) -> int:
    return int(value)


def section(stats: Mapping[str, float]) -> dict[str, Any] | None:
    """The manifest's ``conversations`` section from the run's summed ``stats``: records read
    and kept, ``{measure: {phase: {bucket: count}}}`` histograms (bucket = upper edge, or the
    exact turn count up to 10) and ``dropped_by_rule`` ``{reason: {role: count}}``. None when
    the run read no conversation."""
    counts = statkeys.totals(stats, "conversations")
    if not counts.get("input"):
        return None
    hists = statkeys.chat_series(stats)
    drops = statkeys.series(stats, "chat_drop")
    return {
        "read": _count(counts.get("input", 0)),
        "kept": _count(counts.get("kept", 0)),
        "histograms": {
            measure: {
                phase: {b: _count(n) for b, n in sorted(buckets.items())}
                for phase, buckets in sorted(hists[measure].items())
            }
            for measure in statkeys.CHAT_MEASURES
            if measure in hists
        },
        "dropped_by_rule": {
            reason: {role: _count(n) for role, n in sorted(roles.items())}
            for reason, roles in sorted(drops.items())
        },
    }


__all__ = [
    "ProfileConversations",
    "conversation_stats",
    "count_bucket",
    "drop_stats",
    "section",
]
