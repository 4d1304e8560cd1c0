"""``AnonymizePii``: detect PII with Presidio and replace it, per entity type and per field."""

from __future__ import annotations

import gc
import threading
import traceback
from collections.abc import Iterator, Sequence
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.pvalue import PCollection, TaggedOutput
from apache_beam.utils.shared import Shared

from thresher import progress
from thresher.allocator import keep_freed_memory
from thresher.config import PiiConfig
from thresher.pii.engine import check_entities
from thresher.pii.keys import KeySource, key_source, load_keys
from thresher.records import DeadLetter, Document
from thresher.stages._common import DEAD, STATS, _where, apply_guarded
from thresher.worker import in_worker_process

STAGE = "pii"
_BATCH_KEY = "pii-batch"


class _Holder:
    """Shared needs a weak-referenceable object; this wraps the per-process processor and
    the lock that serializes it: the SDK harness runs bundles on several threads, and spaCy
    pipelines and the segment cache are not meant for concurrent use (the work holds the GIL
    anyway, so the lock costs no parallelism)."""

    def __init__(self, processor: Any) -> None:
        self.processor = processor
        self.lock = threading.Lock()

    def process(self, docs: Sequence[Document]) -> Any:
        with self.lock:
            return self.processor.process(docs)


# What ``keep_resident`` froze, held until the process exits.
_RESIDENT: list[Any] = []


def keep_resident(built: Any) -> bool:
    """In a Beam SDK worker process, keep ``built`` (a PII processor) until the process exits
    and move every live object out of the garbage collector's reach, and let the process keep
    the heap memory it frees (``thresher.allocator``); elsewhere do nothing. Whether it did.

    The processor's 200 K objects would otherwise slow full collections and the interpreter's
    teardown at exit: 0.9 s against 0.1 s frozen, paid one worker after another when a local
    run ends. It is held here so that it is never rebuilt (``Shared`` holds it weakly), since
    a frozen processor, once dropped, could not be freed. The launcher process and an
    in-process runner are left alone: they build a new processor per pipeline (batched runs
    build several) and must be able to free the old ones."""
    if not in_worker_process():
        return False
    keep_freed_memory()  # a worker Beam started itself (the warm server's children have it)
    _RESIDENT.append(built)
    gc.collect()  # no garbage among what is frozen
    gc.freeze()
    return True


class _AnonymizeBatchFn(beam.DoFn):
    """(batch key, documents) -> anonymized documents, stats, and per-document dead letters.

    The processor (spaCy pipeline, Presidio analyzer, keys) is built in ``setup`` once per
    worker process and shared between threads and DoFn instances via ``Shared``.
    """

    def __init__(self, cfg: PiiConfig, source: KeySource, shared: Shared) -> None:
        self._cfg = cfg
        self._source = source
        self._shared = shared
        self._processor: Any = None
        self._total = Metrics.counter(STAGE, "total")
        self._with_pii = Metrics.counter(STAGE, "documents_with_pii")
        self._found = Metrics.counter(STAGE, "findings")
        self._dead = Metrics.counter(STAGE, "dead_letter")

    def setup(self) -> None:
        cfg, source = self._cfg, self._source

        def build() -> _Holder:
            from thresher.pii.process import PiiProcessor

            holder = _Holder(PiiProcessor(cfg, load_keys(source)))
            keep_resident(holder)
            return holder

        tag = f"{cfg.model_dump_json()}|{source.kind}:{source.where}"
        self._processor = self._shared.acquire(build, tag=tag)

    def process(self, element: tuple[str, Sequence[Document]]) -> Iterator[Any]:
        _, batch = element
        docs = list(batch)
        try:
            results = [self._processor.process(docs)]
        except Exception:
            # Find the culprit(s): one document at a time; only they become dead letters.
            results = []
            for doc in docs:
                try:
                    results.append(self._processor.process([doc]))
                except Exception as exc:
                    self._dead.inc()
                    name = type(exc).__name__
                    yield TaggedOutput(
                        DEAD,
                        DeadLetter(
                            id=doc.id,
                            source=doc.source,
                            position=doc.position,
                            stage=STAGE,
                            error_type=name,
                            message=f"unexpected {name} in stage '{STAGE}' at "
                            f"{_where(traceback.format_exc())}",
                        ),
                    )
        for out, stats in results:
            for doc in out:
                self._total.inc()
                self._found.inc(len(doc.pii))
                if doc.pii:
                    self._with_pii.inc()
                yield doc
            for key in sorted(stats):
                yield TaggedOutput(STATS, (key, stats[key]))
            progress.tick(STAGE, len(out))


class AnonymizePii(beam.PTransform):
    """Replace PII in text (or every turn of a conversation) and metadata; attach findings;
    count entity types.

    Input ``PCollection[Document]``; output ``{"main", "fates", "dead_letter", "stats"}``. No
    document is dropped: every input leaves on ``main`` (anonymized, ``Document.pii`` holding
    entity type, output span, operator, score and the keyed HMAC of each replaced value) or,
    when it cannot be processed, as a dead letter (error type and code location only).
    ``fates`` is empty. ``stats`` holds ``pii.entity.<TYPE>``, ``pii.operator.<op>``,
    ``pii.documents``, ``pii.documents_with_pii``, ``pii.segments*`` counts and, for
    conversations, ``pii.role.<role>.<TYPE>`` (never values).

    A conversation (``Document.is_chat``) is anonymized turn by turn, every role, and is the
    unit of consistency: a name found in one turn is looked for in every other turn, and
    ``hash``/``surrogate`` replace a value the same way in every turn. Its findings carry
    ``field="messages.<i>"`` with offsets in turn ``i``'s output content; its ``text`` is
    rebuilt from the anonymized turns (never analyzed itself).

    Detection (``thresher.pii.analyzer``, built by ``thresher.pii.engine``): Presidio with the
    offline spaCy pipeline plus thresher's credential, title-name and street-address recognizers,
    documents batched (``BatchElements``, at most ``pii.batch_size``) through ``nlp.pipe``.
    Replacement (``thresher.pii.operators``) is a pure function of (key, entity type, value): output
    is the same on every runner, worker count and bundle order. The key source is resolved here, at
    construction, so a missing key (or an unknown entity type, or a broken recognizers file) fails
    before the pipeline starts; key material is read on the workers in ``setup`` and never pickled.
    Output holds no detected PII; what the detector misses stays (``thresher audit`` measures that
    rate).

    Example::

        docs | "AnonymizePii" >> AnonymizePii(config.pii)
    """

    def __init__(self, cfg: PiiConfig) -> None:
        super().__init__()
        self._cfg = cfg
        self._source = key_source(cfg.key_env, cfg.key_file, cfg.key_store)
        check_entities(cfg)

    def expand(self, docs: PCollection) -> dict[str, PCollection]:
        batches = (
            docs
            | "Batch"
            >> beam.BatchElements(
                min_batch_size=max(1, self._cfg.batch_size // 4),
                max_batch_size=self._cfg.batch_size,
            )
            | "KeyBatch" >> beam.Map(lambda b: (_BATCH_KEY, b))
        )
        return apply_guarded(
            batches,
            "Anonymize",
            _AnonymizeBatchFn(self._cfg, self._source, Shared()),
            STAGE,
            extra=(STATS,),
        )
