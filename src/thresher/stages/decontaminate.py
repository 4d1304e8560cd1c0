"""``Decontaminate``: keep benchmark items out of the data, and count how much was in.

The matching logic is ``thresher.core.decontam``; benchmark files are found, checked and read by
``thresher.io.benchmarks``. This module wires it: the benchmark index is built at launch from
the same read that checks the benchmarks, saved once as a file every worker loads (the
"side-input" path: no runner broadcast, no second read), or, above
``decontamination.max_side_input_ngrams``, meets the records' n-grams in a join on the n-gram
hash. Both give the same decisions (a test runs both).
"""

from __future__ import annotations

import dataclasses
import tempfile
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.pvalue import PCollection, TaggedOutput
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import MIN_TIMESTAMP
from apache_beam.utils.windowed_value import WindowedValue

from thresher import progress
from thresher.config import DecontaminationConfig
from thresher.core.decontam import (
    EXAMPLE_RECORD,
    EXAMPLES,
    FOUND,
    STATS_PREFIX,
    BenchmarkIndex,
    ItemRef,
    Overlap,
    details,
    item_entries,
    record_keys,
    summarize,
)
from thresher.core.statkeys import per_run
from thresher.io.benchmarks import read_index, read_items, resolve_benchmarks, scan, write_index
from thresher.records import Document, dropped_fate
from thresher.stages._common import DEAD, FATES, MAIN, STATS, apply_guarded, errors_to_dead_letters

STAGE = "decontaminate"
REASON = "contaminated"


def segments(doc: Document) -> list[tuple[str | None, str]]:
    """The ``(role, text)`` segments matched for ``doc``: a text record is one segment that is
    always checked; a conversation gives one segment per turn, in turn order (the matcher
    keeps those of ``decontamination.roles``)."""
    return [(seg.role, seg.text) for seg in doc.segments()]


class _Decider:
    """What every path does with a record and its overlaps: drop it (``contaminated``) or, with
    ``action: annotate``, keep it with signals and lineage details; plus stats and found items."""

    def __init__(self, n: int, action: str) -> None:
        self._n = n
        self._annotate = action == "annotate"
        self._total = Metrics.counter(STAGE, "total")
        self._kept = Metrics.counter(STAGE, "kept")
        self._dropped = Metrics.counter(STAGE, f"dropped.{REASON}")
        self._annotated = Metrics.counter(STAGE, "annotated")
        self.checked = 0

    def start_bundle(self) -> None:
        self.checked = 0

    def finish_bundle(self) -> Iterator[Any]:
        """The bundle's checked records as one stats element: a clean record emits none (most
        records are clean, and every element costs the runner a step)."""
        if self.checked:
            stat = (((STATS_PREFIX + "checked", self.checked),), ())
            yield TaggedOutput(STATS, WindowedValue(stat, MIN_TIMESTAMP, (GlobalWindow(),)))
        self.checked = 0

    def decide(self, doc: Document, overlaps: Sequence[Overlap]) -> Iterator[Any]:
        self._total.inc()
        progress.tick(STAGE)
        self.checked += 1
        if overlaps:
            benches = sorted({o.benchmark for o in overlaps})
            keys = [STATS_PREFIX + "contaminated"]
            keys += [f"{STATS_PREFIX}{b}.records" for b in benches]
            found = tuple((o.benchmark, o.item_id, doc.id) for o in overlaps)
            yield TaggedOutput(STATS, (tuple((k, 1) for k in keys), found))
        detail = details(overlaps, self._n, with_turns=len(segments(doc)) > 1) if overlaps else {}
        if overlaps and not self._annotate:
            self._dropped.inc()
            yield TaggedOutput(FATES, dropped_fate(doc, STAGE, REASON, detail))
            return
        self._kept.inc()
        if not self._annotate:
            yield doc
            return
        signals = {
            **doc.signals,
            "contaminated": 1.0 if overlaps else 0.0,
            "contamination_fraction": max((o.fraction for o in overlaps), default=0.0),
        }
        changes: dict[str, Any] = {"signals": signals}
        if overlaps:
            self._annotated.inc()
            changes["details"] = {**doc.details, "decontamination": detail}
        yield dataclasses.replace(doc, **changes)


_LOADED: dict[str, BenchmarkIndex] = {}  # index file -> index: one copy per worker process
_LOADING = threading.Lock()


def _load_index(path: str) -> BenchmarkIndex:
    with _LOADING:
        if path not in _LOADED:
            _LOADED.clear()  # one run's index at a time
            _LOADED[path] = read_index(path)
        return _LOADED[path]


class _MatchFn(beam.DoFn):
    """Index-file path: look each record's keys up in the whole index, loaded once per worker
    process from the file written at launch."""

    def __init__(self, n: int, roles: Sequence[str], action: str, wholes: bool, index: str):
        self._n = n
        self._roles = tuple(roles)
        self._wholes = wholes
        self._path = index
        self._decider = _Decider(n, action)
        self._index: BenchmarkIndex | None = None

    def setup(self) -> None:
        self._index = _load_index(self._path)

    def start_bundle(self) -> None:
        self._decider.start_bundle()

    def finish_bundle(self) -> Iterator[Any]:
        yield from self._decider.finish_bundle()

    def process(self, doc: Document) -> Iterator[Any]:
        index = self._index if self._index is not None else _load_index(self._path)
        keys = record_keys(segments(doc), self._n, self._roles, self._wholes)
        yield from self._decider.decide(doc, index.match(keys))


class _KeysFn(beam.DoFn):
    """Join path: the record itself (main) and its distinct ``(key, (id, turn))`` pairs."""

    def __init__(self, n: int, roles: Sequence[str], wholes: bool) -> None:
        self._n = n
        self._roles = tuple(roles)
        self._wholes = wholes

    def process(self, doc: Document) -> Iterator[Any]:
        keys = record_keys(segments(doc), self._n, self._roles, self._wholes)
        for key, turn in keys.pairs():
            yield TaggedOutput("keys", (key, (doc.id, turn)))
        yield doc


def _hits(element: tuple[int, dict[str, Iterable[Any]]]) -> Iterator[tuple[str, Any]]:
    key, joined = element
    refs: list[ItemRef] = list(joined["item"])
    if not refs:
        return
    for record_id, turn in joined["record"]:
        for ref in refs:
            yield record_id, (ref, key, turn)


def _with_overlaps(element: tuple[str, dict[str, Iterable[Any]]]) -> Iterator[Any]:
    record_id, joined = element
    overlaps: tuple[Overlap, ...] = next(iter(joined["overlaps"]), ())
    for doc in joined["doc"]:
        yield record_id, (doc, overlaps)


class _ApplyFn(beam.DoFn):
    """Join path: ``(id, (record, overlaps))`` -> the decision."""

    def __init__(self, n: int, action: str) -> None:
        self._decider = _Decider(n, action)

    def start_bundle(self) -> None:
        self._decider.start_bundle()

    def finish_bundle(self) -> Iterator[Any]:
        yield from self._decider.finish_bundle()

    def process(self, element: tuple[str, tuple[Document, tuple[Overlap, ...]]]) -> Iterator[Any]:
        _id, (doc, overlaps) = element
        yield from self._decider.decide(doc, overlaps)


# (counts of stats keys, benchmark -> (items found, first record ids))
_Acc = tuple[Counter[str], dict[str, tuple[set[str], list[str]]]]


class _StatsFn(beam.CombineFn):
    """Per contaminated record (and per bundle, for the records checked) ``((stats key, count)
    pairs, found (benchmark, item id, record id) triples)`` -> the stage's
    stats pairs: the keys counted, per benchmark one ``.found.<item id>`` key per distinct item
    found (a set that survives summing across a batched run's pipelines) and the first
    ``EXAMPLES`` record ids (``.example_record.<id>``). One combine for all of it (each is a
    shuffle on batch runners). The accumulator holds the found item ids: bounded by the
    benchmarks' size, never by the corpus."""

    def create_accumulator(self) -> _Acc:
        return Counter(), {}

    def add_input(self, acc: _Acc, element: tuple[tuple[tuple[str, int], ...], Any]) -> _Acc:
        keys, found = element
        for key, count in keys:
            acc[0][key] += count
        for bench, item, record in found:
            items, records = acc[1].setdefault(bench, (set(), []))
            items.add(item)
            if record not in records:
                records[:] = sorted([*records, record])[:EXAMPLES]
        return acc

    def merge_accumulators(self, accs: Iterable[_Acc]) -> _Acc:
        counts: Counter[str] = Counter()
        out: dict[str, tuple[set[str], list[str]]] = {}
        for acc in accs:
            counts.update(acc[0])
            for bench, (items, records) in acc[1].items():
                mine = out.setdefault(bench, (set(), []))
                mine[0].update(items)
                mine[1][:] = sorted(set(mine[1]) | set(records))[:EXAMPLES]
        return counts, out

    def extract_output(self, acc: _Acc) -> list[tuple[str, float]]:
        pairs: list[tuple[str, float]] = sorted(acc[0].items())
        for bench, (items, records) in sorted(acc[1].items()):
            prefix = f"{STATS_PREFIX}{bench}."
            pairs += [(f"{prefix}{FOUND}.{i}", 1) for i in sorted(items)]
            pairs += [(f"{prefix}{EXAMPLE_RECORD}.{r}", 1) for r in records]
        return pairs


class Decontaminate(beam.PTransform):
    """Drop (or annotate) records that contain items of the recipe's benchmarks.

    Input ``PCollection[Document]``; output ``{"main", "fates", "dead_letter", "stats"}``. At
    expansion (before the pipeline runs) every benchmark is resolved, read and checked: a bad
    path, record, field or an empty benchmark raises ``InputError`` naming the benchmark and
    the key. A record containing any n-gram of a benchmark item (or, for an item shorter than
    ``ngram`` words, the whole item as a segment or line) leaves as ``dropped`` with reason
    ``contaminated``; its lineage ``details`` name, per benchmark, the items matched (id, the
    n-grams matched, the item's n-grams and the fraction; at most five), never text. With
    ``action: annotate`` every record is kept with signals ``contaminated`` (0/1) and
    ``contamination_fraction`` (the highest item fraction), and a contaminated one carries the
    same details into its lineage row. While the benchmarks' n-grams stay under
    ``max_side_input_ngrams`` the index is built at launch and saved under ``work_dir`` (any
    Beam path the workers can read; the run passes ``OUTPUT/_staging/decontamination``, a
    local temporary directory when ``None``), and every worker process loads it once (about
    24 bytes per n-gram); else it is joined with the records' n-gram hashes (CoGroupByKey):
    same decisions either way.
    Deterministic. Output can hold raw PII. Metrics (namespace ``decontaminate``): ``total``,
    ``kept``, ``dropped.contaminated``, ``annotated``, ``dead_letter``. Stats
    (``decontamination.``): ``checked``, ``contaminated``, per benchmark ``<name>.records``,
    ``.found.<item id>`` for every item found and up to five ``.example_record.<id>``; per run
    (``run.decontamination.``, never summed across batches): ``<name>.items``,
    ``index_ngrams``, ``index_bytes``, ``join``.

    Example::

        out = docs | "Decontaminate" >> Decontaminate(config.decontamination)
    """

    def __init__(self, cfg: DecontaminationConfig, work_dir: str | None = None) -> None:
        super().__init__()
        self._cfg = cfg
        self._work_dir = work_dir

    def expand(self, docs: PCollection) -> dict[str, PCollection]:
        cfg = self._cfg
        sources = resolve_benchmarks(cfg.benchmarks)
        found = scan(sources, cfg.ngram, keep=cfg.max_side_input_ngrams)
        summaries = found.summaries
        wholes = any(s.short for s in summaries)  # else no record needs whole-form keys
        sizes: list[tuple[str, float]] = [
            (per_run(f"{STATS_PREFIX}{s.name}.items"), s.items) for s in summaries
        ]
        if found.items is not None:
            index = BenchmarkIndex(found.items, cfg.ngram)
            work_dir = self._work_dir or tempfile.mkdtemp(prefix="thresher-decontamination-")
            out = apply_guarded(
                docs,
                "MatchBenchmarks",
                _MatchFn(cfg.ngram, cfg.roles, cfg.action, wholes, write_index(index, work_dir)),
                STAGE,
                extra=(STATS,),
            )
            sizes += [
                (per_run(STATS_PREFIX + "index_ngrams"), index.ngrams),
                (per_run(STATS_PREFIX + "index_bytes"), index.nbytes),
            ]
        else:
            items = (
                docs.pipeline
                | "ListBenchmarkFiles" >> beam.Create([(s, f) for s in sources for f in s.files])
                | "ReadBenchmarkItems" >> beam.FlatMapTuple(read_items)
            )
            out = self._join(docs, items, wholes)
            total_ngrams = sum(s.ngrams for s in summaries)
            sizes += [
                (per_run(STATS_PREFIX + "join"), 1),
                (per_run(STATS_PREFIX + "index_ngrams"), total_ngrams),
            ]
        fixed = docs.pipeline | "BenchmarkSizes" >> beam.Create(sizes)
        # without_defaults: an empty input adds no stats (and saves the runner the stages
        # that inject a default); the launch-time numbers come from `fixed`
        counted = (
            out[STATS]
            | "DecontaminationStats" >> beam.CombineGlobally(_StatsFn()).without_defaults()
            | "StatItems" >> beam.FlatMap(lambda pairs: pairs)
        )
        out[STATS] = (counted, fixed) | "AllDecontaminationStats" >> beam.Flatten()
        return out

    def _join(self, docs: PCollection, items: PCollection, wholes: bool) -> dict[str, PCollection]:
        cfg = self._cfg
        keyed = docs | "RecordNgrams" >> beam.ParDo(
            _KeysFn(cfg.ngram, cfg.roles, wholes)
        ).with_outputs("keys", main=MAIN).with_exception_handling(dead_letter_tag="failed")
        key_failures = keyed["failed"] | "RecordNgramFailures" >> beam.FlatMap(
            errors_to_dead_letters(STAGE)
        )
        index = items | "BenchmarkNgrams" >> beam.FlatMap(item_entries, cfg.ngram)
        overlaps = (
            {"record": keyed["keys"], "item": index}
            | "JoinOnNgrams" >> beam.CoGroupByKey()
            | "Hits" >> beam.FlatMap(_hits)
            | "GroupHitsByRecord" >> beam.GroupByKey()
            | "Summarize" >> beam.MapTuple(lambda rid, hits: (rid, summarize(hits)))
        )
        paired = (
            {"doc": keyed[MAIN] | "KeyById" >> beam.Map(lambda d: (d.id, d)), "overlaps": overlaps}
            | "JoinOverlaps" >> beam.CoGroupByKey()
            | "PairWithOverlaps" >> beam.FlatMap(_with_overlaps)
        )
        out = apply_guarded(
            paired, "ApplyMatches", _ApplyFn(cfg.ngram, cfg.action), STAGE, extra=(STATS,)
        )
        out[DEAD] = (out[DEAD], key_failures) | "AllDeadLetters" >> beam.Flatten()
        return out


__all__ = ["REASON", "STAGE", "Decontaminate", "segments"]
