"""The run profile's statistic keys, built and read back in one place.

Stages emit ``(key, number)`` statistics that are summed over the whole run into the manifest's
``stats`` (a flat mapping, so any runner can combine them). The profile histograms use the keys
below; :func:`parse` turns a key back into its typed parts, so readers (the report) never
re-derive the format with their own patterns.

Formats (``bucket`` labels come from :mod:`thresher.core.profile`):
``hist.chars.<phase>.<bucket>``, ``hist.signal.<signal>.<kept|dropped>.<bucket>``,
``cluster_size.<stage>.<bucket>``, ``language.<code>``, ``bytes.<phase>``; conversations:
``conversations.<phase>`` (records), ``hist.chat.<measure>.<phase>.<bucket>`` (``CHAT_MEASURES``)
and ``chat_dropped.<reason>.<role>``. Signal names and buckets may hold dots (``0.3``); phases,
measures, reasons and roles never do.

Every statistic is summed, except the *per-run* ones (``run.<key>``, built by :func:`per_run`):
numbers fixed at launch (a benchmark's size), which every pipeline of a batched run reports
once and which are merged by taking the largest, never summed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

Family = Literal[
    "chars", "signal", "cluster_size", "language", "bytes", "chat", "conversations", "chat_drop"
]
SIGNAL_PHASES = ("kept", "dropped")
# Per-conversation histograms: turns per conversation, words per assistant response, and (when
# the token-length stage set the signals) tokens per conversation and of its assistant turns.
CHAT_MEASURES = ("turns", "response_words", "tokens", "assistant_tokens")

_CHARS = "hist.chars."
_SIGNAL = "hist.signal."
_CLUSTER = "cluster_size."
_LANGUAGE = "language."
_BYTES = "bytes."
_CHAT = "hist.chat."
_CONVERSATIONS = "conversations."
_CHAT_DROP = "chat_dropped."
_PER_RUN = "run."


@dataclass(frozen=True)
class StatKey:
    """A parsed profile key. ``series`` is the phase (chars, bytes, conversations), the stage
    (cluster sizes), the language code, the signal's name, the chat measure, or the drop
    reason (``bucket``: the role); ``phase`` is set for signals and chat measures only."""

    family: Family
    series: str
    bucket: str = ""
    phase: str = ""


def chars(phase: str, bucket: str) -> str:
    return f"{_CHARS}{phase}.{bucket}"


def signal(name: str, phase: str, bucket: str) -> str:
    return f"{_SIGNAL}{name}.{phase}.{bucket}"


def cluster_size(stage: str, bucket: str) -> str:
    return f"{_CLUSTER}{stage}.{bucket}"


def language(code: str) -> str:
    return f"{_LANGUAGE}{code}"


def text_bytes(phase: str) -> str:
    return f"{_BYTES}{phase}"


def chat(measure: str, phase: str, bucket: str) -> str:
    return f"{_CHAT}{measure}.{phase}.{bucket}"


def conversations(phase: str) -> str:
    return f"{_CONVERSATIONS}{phase}"


def chat_dropped(reason: str, role: str) -> str:
    return f"{_CHAT_DROP}{reason}.{role}"


def per_run(key: str) -> str:
    """The key of a per-run number (merged by maximum across a batched run's pipelines)."""
    return f"{_PER_RUN}{key}"


def is_per_run(key: str) -> bool:
    return key.startswith(_PER_RUN)


def _chat(rest: str) -> StatKey | None:
    measure, _, rest = rest.partition(".")
    phase, _, bucket = rest.partition(".")
    if measure in CHAT_MEASURES and phase and bucket:
        return StatKey("chat", measure, bucket, phase)
    return None


def _signal(rest: str) -> StatKey | None:
    for phase in SIGNAL_PHASES:
        name, sep, bucket = rest.rpartition(f".{phase}.")
        if sep and name and bucket:
            return StatKey("signal", name, bucket, phase)
    return None


def parse(key: str) -> StatKey | None:
    """The typed parts of a profile key; ``None`` for keys of other owners (bias, pii)."""
    if key.startswith(_SIGNAL):
        return _signal(key[len(_SIGNAL) :])
    if key.startswith(_CHAT):
        return _chat(key[len(_CHAT) :])
    bucketed: tuple[tuple[str, Family], ...] = (
        (_CHARS, "chars"),
        (_CLUSTER, "cluster_size"),
        (_CHAT_DROP, "chat_drop"),
    )
    for prefix, family in bucketed:
        if key.startswith(prefix):
            series, sep, bucket = key[len(prefix) :].partition(".")
            return StatKey(family, series, bucket) if sep and series and bucket else None
    if key.startswith(_LANGUAGE):
        return StatKey("language", key[len(_LANGUAGE) :])
    if key.startswith(_BYTES):
        return StatKey("bytes", key[len(_BYTES) :])
    if key.startswith(_CONVERSATIONS) and len(key) > len(_CONVERSATIONS):
        return StatKey("conversations", key[len(_CONVERSATIONS) :])
    return None


def series(stats: Mapping[str, float], family: Family) -> dict[str, dict[str, float]]:
    """``{series: {bucket: count}}`` of one histogram family (chars, cluster_size; chat_drop:
    ``{reason: {role: count}}``)."""
    out: dict[str, dict[str, float]] = {}
    for key, value in _parsed(stats.items(), family):
        out.setdefault(key.series, {})[key.bucket] = value
    return out


def signal_series(stats: Mapping[str, float]) -> dict[str, dict[str, dict[str, float]]]:
    """``{signal: {phase: {bucket: count}}}``."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for key, value in _parsed(stats.items(), "signal"):
        out.setdefault(key.series, {}).setdefault(key.phase, {})[key.bucket] = value
    return out


def chat_series(stats: Mapping[str, float]) -> dict[str, dict[str, dict[str, float]]]:
    """``{measure: {phase: {bucket: count}}}`` of the conversation histograms."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for key, value in _parsed(stats.items(), "chat"):
        out.setdefault(key.series, {}).setdefault(key.phase, {})[key.bucket] = value
    return out


def totals(stats: Mapping[str, float], family: Family) -> dict[str, float]:
    """``{series: value}`` of a bucketless family (language, bytes, conversations)."""
    return {key.series: value for key, value in _parsed(stats.items(), family)}


def _parsed(items: Iterable[tuple[str, float]], family: Family) -> Iterable[tuple[StatKey, float]]:
    for raw, value in items:
        key = parse(raw)
        if key is not None and key.family == family:
            yield key, value
