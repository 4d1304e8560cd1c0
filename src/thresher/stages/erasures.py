"""``ApplyErasures``: keep records erased from an earlier output out of a rerun over it.

``thresher forget`` removes records from an output and keeps a receipt of their ids. When the
same output is rerun with ``--overwrite``, the receipts are carried over (see
``thresher.run``), and this stage, first after reading, drops every record whose id a receipt
names, with the receipt's reason (``erased``, or ``erased_duplicate`` for the duplicates that
stood for an erased record, so none of them can be promoted in its place).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.pvalue import PCollection, TaggedOutput

from thresher.records import Document, dropped_fate
from thresher.stages._common import FATES, apply_guarded

STAGE = "forget"


class _EraseFn(beam.DoFn):
    def __init__(self, erased: Mapping[str, tuple[str, str]]) -> None:
        self._erased = dict(erased)
        self._total = Metrics.counter(STAGE, "total")

    def process(self, doc: Document) -> Iterator[Any]:
        self._total.inc()
        hit = self._erased.get(doc.id)
        if hit is None:
            yield doc
            return
        reason, stamp = hit
        Metrics.counter(STAGE, f"dropped.{reason}").inc()
        yield TaggedOutput(FATES, dropped_fate(doc, STAGE, reason, {"erasure": stamp}))


class ApplyErasures(beam.PTransform):
    """Drop the records that carried-over erasure receipts name.

    Input ``PCollection[Document]``; output ``{"main", "fates", "dead_letter"}``. ``erased``
    maps a record id to ``(reason, receipt stamp)``; it holds ids only (a receipt's size), so
    it travels inside the transform. Deterministic. Metrics (namespace ``forget``): ``total``,
    ``dropped.<reason>``.
    """

    def __init__(self, erased: Mapping[str, tuple[str, str]]) -> None:
        super().__init__()
        self._erased = dict(erased)

    def expand(self, docs: PCollection) -> dict[str, PCollection]:
        return apply_guarded(docs, "DropErasedRecords", _EraseFn(self._erased), STAGE)
