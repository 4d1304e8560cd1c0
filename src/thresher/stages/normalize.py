"""``Normalize``: Unicode form, mojibake repair, control characters and whitespace."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.pvalue import PCollection, TaggedOutput

from thresher import progress
from thresher.config import NormalizeConfig
from thresher.core.normalize import NormalizeOptions, normalize_text
from thresher.records import Document, dropped_fate, with_segment_texts
from thresher.stages._common import FATES, apply_guarded

STAGE = "normalize"


class _NormalizeFn(beam.DoFn):
    def __init__(self, opts: NormalizeOptions) -> None:
        self._opts = opts
        self._total = Metrics.counter(STAGE, "total")
        self._changed = Metrics.counter(STAGE, "changed")
        self._empty = Metrics.counter(STAGE, "dropped.empty_after_normalize")

    def process(self, doc: Document) -> Iterator[Any]:
        self._total.inc()
        progress.tick(STAGE)
        before = [seg.text for seg in doc.segments()]
        after = [normalize_text(text, self._opts) for text in before]
        if not any(after):
            self._empty.inc()
            yield TaggedOutput(
                FATES,
                dropped_fate(doc, STAGE, "empty_after_normalize"),
            )
            return
        if after == before:
            yield doc
            return
        self._changed.inc()
        yield with_segment_texts(doc, after, modifications=(*doc.modifications, STAGE))


class Normalize(beam.PTransform):
    """Normalize every document's text, or every turn of a conversation (see
    ``thresher.core.normalize``).

    Input ``PCollection[Document]``; output ``{"main", "fates", "dead_letter"}``. A record
    whose text (every turn) is empty after normalization is dropped (reason
    ``empty_after_normalize``); a conversation keeps a turn that became empty (the chat
    filters judge empty responses).
    Changed documents carry ``"normalize"`` in ``modifications``. Idempotent and deterministic.
    Output can hold raw PII. Metrics (namespace ``normalize``): ``total``, ``changed``,
    ``dropped.empty_after_normalize``, ``dead_letter``.
    """

    def __init__(self, cfg: NormalizeConfig) -> None:
        super().__init__()
        self._opts = NormalizeOptions(
            unicode_form=cfg.unicode_form,
            fix_mojibake=cfg.fix_mojibake,
            remove_control_chars=cfg.remove_control_chars,
            normalize_whitespace=cfg.normalize_whitespace,
        )

    def expand(self, docs: PCollection) -> dict[str, PCollection]:
        return apply_guarded(docs, "NormalizeText", _NormalizeFn(self._opts), STAGE)
