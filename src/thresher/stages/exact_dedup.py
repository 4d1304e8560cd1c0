"""``DropExactDuplicates``: one record per identical (folded) text."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.pvalue import PCollection, TaggedOutput

from thresher import progress
from thresher.config import ExactDedupConfig
from thresher.core.hashing import content_key
from thresher.records import Document, duplicate_fate
from thresher.stages._common import FATES, apply_guarded

STAGE = "exact_dedup"


def _rank(policy: str):
    if policy == "smallest_id":
        return lambda d: (d.id, d.source, d.position)
    return lambda d: (d.source, d.position, d.id)


class _KeyFn(beam.DoFn):
    def __init__(self, casefold: bool, strip_punctuation: bool) -> None:
        self._casefold = casefold
        self._strip = strip_punctuation

    def process(self, doc: Document) -> Iterator[tuple[str, Document]]:
        yield content_key(doc.text, self._casefold, self._strip), doc


class _KeepOneFn(beam.DoFn):
    """(key, documents) -> the winner by the keep policy; the rest as duplicate fates.

    Two passes over the group iterable (re-iterable in Beam) so only the winner is held.
    """

    def __init__(self, policy: str) -> None:
        self._policy = policy
        self._total = Metrics.counter(STAGE, "total")
        self._dups = Metrics.counter(STAGE, "duplicate")
        self._clusters = Metrics.distribution(STAGE, "cluster_size")

    def process(self, element: tuple[str, Iterable[Document]]) -> Iterator[Any]:
        key, docs = element
        rank = _rank(self._policy)
        winner = min(docs, key=rank)
        size = 0
        for doc in docs:
            size += 1
            if rank(doc) == rank(winner):
                continue
            self._dups.inc()
            yield TaggedOutput(
                FATES, duplicate_fate(doc, STAGE, "exact_duplicate", winner.id, "x" + key[:16])
            )
        self._total.inc(size)
        progress.tick(STAGE, size)
        self._clusters.update(size)
        yield winner


class DropExactDuplicates(beam.PTransform):
    """Keep one document per identical text; the others leave as duplicates of the kept one.

    Key: sha256 of the text with whitespace collapsed (and, by option, case folded and
    punctuation ignored). Keep policy ``first`` keeps the smallest (source, position),
    ``smallest_id`` the smallest id: the same winner on every runner, worker count and bundle
    order. Input ``PCollection[Document]``; output ``{"main", "fates", "dead_letter"}``; every
    removed record's fate is ``duplicate`` with ``duplicate_of`` = the kept id and ``cluster_id``
    = ``x`` + the first 16 hex digits of the key. One worker holds one group (one distinct text)
    at a time. Output can hold raw PII. Metrics (namespace ``exact_dedup``): ``total``,
    ``duplicate``, ``cluster_size``.
    """

    def __init__(self, cfg: ExactDedupConfig) -> None:
        super().__init__()
        self._cfg = cfg

    def expand(self, docs: PCollection) -> dict[str, PCollection]:
        keyed = docs | "ContentKey" >> beam.ParDo(
            _KeyFn(self._cfg.casefold, self._cfg.strip_punctuation)
        )
        grouped = keyed | "GroupByContent" >> beam.GroupByKey()
        return apply_guarded(grouped, "KeepOnePerText", _KeepOneFn(self._cfg.keep), STAGE)
