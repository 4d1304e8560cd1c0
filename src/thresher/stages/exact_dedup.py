"""``DropExactDuplicates``: one record per identical (folded) text."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
import pyarrow as pa
from apache_beam.metrics import Metrics
from apache_beam.pvalue import PCollection, TaggedOutput

from thresher import progress
from thresher.config import ExactDedupConfig
from thresher.core.hashing import content_key, conversation_key
from thresher.io.earlier import ReadEarlierRowsFn
from thresher.records import Document, duplicate_fate
from thresher.stages._common import FATES, apply_guarded

STAGE = "exact_dedup"
KEYS = "keys"  # extra output when asked: (content key, kept id) of this run's kept records
KEYS_SCHEMA = pa.schema([("key", pa.string()), ("id", pa.string())])


@dataclass(frozen=True)
class _Previous:
    """A record kept by an earlier batch under the same content key."""

    id: str


def _previous(row: dict) -> _Previous:
    return _Previous(row["id"])


def _rank(policy: str):
    if policy == "smallest_id":
        return lambda d: (d.id, d.source, d.position)
    return lambda d: (d.source, d.position, d.id)


class _KeyFn(beam.DoFn):
    def __init__(self, casefold: bool, strip_punctuation: bool, prompt_only: bool) -> None:
        self._casefold = casefold
        self._strip = strip_punctuation
        self._prompt_only = prompt_only

    def process(self, doc: Document) -> Iterator[tuple[str, Document]]:
        if doc.is_chat:
            turns = ((t.role, t.content) for t in doc.messages)
            yield conversation_key(turns, self._prompt_only, self._casefold, self._strip), doc
        else:
            yield content_key(doc.text, self._casefold, self._strip), doc


class _KeepOneFn(beam.DoFn):
    """(key, documents) -> the winner by the keep policy; the rest as duplicate fates.

    Two passes over the group iterable (re-iterable in Beam) so only the winner is held.
    """

    def __init__(self, policy: str, emit_keys: bool = False, prompt_only: bool = False) -> None:
        self._policy = policy
        self._emit_keys = emit_keys
        self._prompt_only = prompt_only
        self._total = Metrics.counter(STAGE, "total")
        self._dups = Metrics.counter(STAGE, "duplicate")
        self._clusters = Metrics.distribution(STAGE, "cluster_size")

    def process(self, element: tuple[str, Iterable[Any]]) -> Iterator[Any]:
        key, members = element
        previous = next((m for m in members if isinstance(m, _Previous)), None)
        docs = [m for m in members if not isinstance(m, _Previous)] if previous else members
        if not docs:
            return
        rank = _rank(self._policy)
        winner = None if previous else min(docs, key=rank)
        kept_id = previous.id if previous else winner.id  # type: ignore[union-attr]
        size = 0
        for doc in docs:
            size += 1
            if winner is not None and rank(doc) == rank(winner):
                continue
            self._dups.inc()
            reason = "same_prompt" if self._prompt_only and doc.is_chat else "exact_duplicate"
            yield TaggedOutput(FATES, duplicate_fate(doc, STAGE, reason, kept_id, "x" + key[:16]))
        self._total.inc(size)
        progress.tick(STAGE, size)
        self._clusters.update(size + (1 if previous else 0))
        if winner is not None:
            if self._emit_keys:
                yield TaggedOutput(KEYS, (key, winner.id))
            yield winner


class DropExactDuplicates(beam.PTransform):
    """Keep one document per identical text; the others leave as duplicates of the kept one.

    Key: sha256 of the text with whitespace collapsed (and, by option, case folded and
    punctuation ignored); for a conversation, of every turn so folded with its role
    (``dedup.exact.key: conversation``), or of its non-assistant turns only (``prompt``: one
    record per distinct prompt, the others leave with reason ``same_prompt``). A conversation
    never has a document's key. Keep policy ``first`` keeps the smallest (source, position),
    ``smallest_id`` the smallest id: the same winner on every runner, worker count and bundle
    order. Input ``PCollection[Document]``; output ``{"main", "fates", "dead_letter"}`` (and
    ``keys`` with ``emit_keys``: (content key, kept id) pairs, what a later batch deduplicates
    against); every
    removed record's fate is ``duplicate`` with ``duplicate_of`` = the kept id and ``cluster_id``
    = ``x`` + the first 16 hex digits of the key. One worker holds one group (one distinct text)
    at a time. Output can hold raw PII. Metrics (namespace ``exact_dedup``): ``total``,
    ``duplicate``, ``cluster_size``.

    Batched runs: ``previous_keys`` are the keys files (``KEYS_SCHEMA``) of earlier batches; a
    text kept there is kept there, and this batch's copies leave as its duplicates.
    """

    def __init__(
        self, cfg: ExactDedupConfig, previous_keys: Sequence[str] = (), emit_keys: bool = False
    ) -> None:
        super().__init__()
        self._cfg = cfg
        self._previous = list(previous_keys)
        self._emit_keys = emit_keys

    def expand(self, docs: PCollection) -> dict[str, PCollection]:
        prompt_only = self._cfg.key == "prompt"
        keyed = docs | "ContentKey" >> beam.ParDo(
            _KeyFn(self._cfg.casefold, self._cfg.strip_punctuation, prompt_only)
        )
        if self._previous:
            current = keyed | "CurrentKeys" >> beam.Map(lambda kv: kv[0])
            previous = (
                docs.pipeline
                | "PreviousKeyFiles" >> beam.Create(self._previous)
                | "ReadPreviousKeys"
                >> beam.ParDo(
                    ReadEarlierRowsFn("key", ["key", "id"], _previous),
                    beam.pvalue.AsList(current),
                )
            )
            keyed = (keyed, previous) | "WithPreviousKeys" >> beam.Flatten()
        grouped = keyed | "GroupByContent" >> beam.GroupByKey()
        extra = (KEYS,) if self._emit_keys else ()
        return apply_guarded(
            grouped,
            "KeepOnePerText",
            _KeepOneFn(self._cfg.keep, self._emit_keys, prompt_only),
            STAGE,
            extra,
        )
