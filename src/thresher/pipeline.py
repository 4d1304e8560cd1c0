"""Wire the planned curation stages into one Beam pipeline: read, the stages of
:func:`thresher.plan.stage_plan` in order, then the writers and the books.

Only wiring lives here: which stages run and in which order is the plan's; launching,
balancing and publishing are :mod:`thresher.run`'s.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any

import apache_beam as beam
from apache_beam.pvalue import PCollection
from apache_beam.transforms.combiners import CountCombineFn, ToListCombineFn

from thresher.accounting import CountKeys, SumStatGroups, SumStats, fate_keys, write_json
from thresher.config import PipelineConfig
from thresher.core import statkeys
from thresher.core.profile import length_bucket, signal_stats, size_bucket
from thresher.io.read import IDS, IDS_SCHEMA, InputFile, ReadCorpus
from thresher.io.write import WriteShards
from thresher.paths import join_uri
from thresher.plan import READ_LABEL, StageSpec, stage_plan
from thresher.records import DeadLetter, Document, Fate, IndexEntry, kept_fate
from thresher.schema import (
    DEAD_LETTER_SCHEMA,
    DOCUMENT_SCHEMA,
    LINEAGE_SCHEMA,
    dead_letter_row,
    document_row,
    index_row,
    index_schema,
    lineage_row,
)
from thresher.stages import exact_dedup, near_dedup
from thresher.stages._common import DEAD, FATES, MAIN, STATS
from thresher.stages.chat_profile import ProfileConversations

COUNTS_FILE = "counts.json"
EXAMPLES_PER_REASON = 5


def _length_stats(doc: Document, phase: str) -> Iterable[tuple[str, int]]:
    yield statkeys.chars(phase, length_bucket(len(doc.text))), 1
    yield statkeys.text_bytes(phase), len(doc.text.encode("utf-8"))


def _kept_stats(doc: Document) -> Iterable[tuple[str, int]]:
    yield statkeys.chars("kept", length_bucket(len(doc.text))), 1
    yield statkeys.language(doc.language or "und"), 1
    yield from signal_stats("kept", doc.signals)


def _decided_stats(fate: Fate) -> Iterable[tuple[str, int]]:
    if fate.fate == "dropped" and fate.details:
        # filters keep every signal under details["signals"]; other drops have none
        signals = fate.details.get("signals")
        if isinstance(signals, dict):
            yield from signal_stats("dropped", signals)


def _profile(read_docs: PCollection, kept: PCollection, lineage: PCollection) -> PCollection:
    """Run-level histograms as ``(key, count)`` stats: text lengths at input and kept, signal
    values of kept and dropped records, languages kept, duplicate-cluster sizes per stage, and
    the conversations' profile (``ProfileConversations``)."""
    clusters = (
        lineage
        | "Duplicates" >> beam.Filter(lambda f: f.fate == "duplicate" and f.cluster_id)
        | "KeyByCluster" >> beam.Map(lambda f: ((f.stage, f.cluster_id), 1))
        | "ClusterSizes" >> beam.CombinePerKey(sum)
        | "ClusterStats"
        >> beam.Map(lambda kv: (statkeys.cluster_size(kv[0][0], size_bucket(kv[1] + 1)), 1))
    )
    # one element per record (its pairs), summed here: not one element per pair
    per_record = (
        (
            read_docs | "InputLengths" >> beam.Map(lambda d: list(_length_stats(d, "input"))),
            kept | "KeptProfile" >> beam.Map(lambda d: list(_kept_stats(d))),
            lineage | "DroppedSignals" >> beam.Map(lambda f: list(_decided_stats(f))),
        )
        | "RecordProfiles" >> beam.Flatten()
        | "SumRecordProfiles" >> beam.CombineGlobally(SumStatGroups()).without_defaults()
        | "RecordProfileItems" >> beam.FlatMap(lambda totals: sorted(totals.items()))
    )
    return (
        per_record,
        clusters,
        (read_docs, kept, lineage) | "ProfileConversations" >> ProfileConversations(),
    ) | "ProfileStats" >> beam.Flatten()


def _doc_size(doc: Document) -> int:
    return len(doc.text.encode("utf-8")) + 256


def _small(_: Any) -> int:
    return 256


def _index_if_kept(element: tuple[str, dict[str, list[Any]]]) -> list[IndexEntry]:
    _id, joined = element
    return list(joined["entry"]) if joined["kept"] else []


def _write_index(
    docs: PCollection,
    entries: PCollection,
    params: dict[str, Any],
    directory: str,
    out_cfg: Any,
) -> None:
    """The near-dedup index of the documents that reach the output (later stages may still
    drop or dead-letter some): their signatures and band keys, for ``--dedup-against``."""
    kept = (
        {
            "entry": entries | "IndexById" >> beam.Map(lambda e: (e.id, e)),
            "kept": docs | "KeptIds" >> beam.Map(lambda d: (d.id, None)),
        }
        | "JoinIndexWithKept" >> beam.CoGroupByKey()
        | "KeptIndexEntries" >> beam.FlatMap(_index_if_kept)
    )
    kept | "WriteIndex" >> WriteShards(
        directory,
        "index",
        index_schema(params),
        index_row,
        lambda e: (e.id, e.source, e.position),
        _index_size,
        out_cfg.max_rows_per_shard,
        out_cfg.max_bytes_per_shard,
        out_cfg.compression,
    )


def _index_size(entry: IndexEntry) -> int:
    return len(entry.signature) + 16 * len(entry.band_keys) + len(entry.id) + 64


def _write_keys(keys: PCollection, directory: str, out_cfg: Any) -> None:
    """Exact-dedup keys of this batch's kept texts, for the batches after it."""
    keys | "WriteKeys" >> WriteShards(
        directory,
        exact_dedup.KEYS,
        exact_dedup.KEYS_SCHEMA,
        lambda kv: {"key": kv[0], "id": kv[1]},
        lambda kv: (kv[0], kv[1]),
        _small,
        out_cfg.max_lineage_rows_per_shard,
        out_cfg.max_bytes_per_shard,
        out_cfg.compression,
    )


def _write_ids(ids: PCollection, directory: str, out_cfg: Any) -> None:
    """Source ids this batch claimed, for the batches after it."""
    ids | "WriteIds" >> WriteShards(
        directory,
        IDS,
        IDS_SCHEMA,
        lambda t: {"id": t[0], "source": t[1], "position": t[2]},
        lambda t: t,
        _small,
        out_cfg.max_lineage_rows_per_shard,
        out_cfg.max_bytes_per_shard,
        out_cfg.compression,
    )


def build_pipeline(
    p: beam.Pipeline,
    config: PipelineConfig,
    files: Sequence[InputFile],
    staging: str,
    plan: Sequence[StageSpec] | None = None,
    spans: Sequence[tuple[str, int, int | None, int]] | None = None,
    earlier_ids: Sequence[str] | None = None,
) -> dict[str, PCollection]:
    """Add the whole curation flow to ``p``; staged outputs land under ``staging``. ``plan``
    defaults to :func:`thresher.plan.stage_plan` of ``config``. ``spans`` (one batch of a
    batched run, ``thresher.io.split``): read those position ranges instead of ``files``;
    ``earlier_ids`` (batched runs): the ids files of earlier batches (``ReadCorpus``), and this
    batch's claimed ids are written under ``staging/ids``.

    Returns the main PCollections (``documents``, ``lineage``, ``dead_letter``) for tests.
    """
    read = p | READ_LABEL >> ReadCorpus(files, config.input, spans, earlier_ids)
    if IDS in read:
        _write_ids(read[IDS], join_uri(staging, IDS), config.output)
    docs: PCollection = read[MAIN]
    fates: list[PCollection] = []
    dead: list[PCollection] = [read[DEAD]]
    stats: list[PCollection] = []
    index_entries: PCollection | None = None
    index_params: dict[str, Any] = {}
    for spec in stage_plan(config) if plan is None else plan:
        stage = spec.build(config)
        out = docs | spec.label >> stage
        docs = out[MAIN]
        fates.append(out[FATES])
        dead.append(out[DEAD])
        if STATS in out:
            stats.append(out[STATS])
        if isinstance(stage, near_dedup.DropNearDuplicates):
            index_entries = out[near_dedup.INDEX]
            index_params = stage.params.as_dict()
        if exact_dedup.KEYS in out:
            _write_keys(out[exact_dedup.KEYS], join_uri(staging, exact_dedup.KEYS), config.output)

    dead_letters = tuple(dead) | "AllDeadLetters" >> beam.Flatten()
    lineage = (
        *fates,
        docs | "KeptFates" >> beam.Map(kept_fate),
        dead_letters | "DeadLetterFates" >> beam.Map(DeadLetter.to_fate),
    ) | "AllFates" >> beam.Flatten()

    out_cfg = config.output
    join = join_uri
    # data/ publishes each file's name relative to its input root (lineage keeps the path)
    published = {} if out_cfg.absolute_sources else {f.path: f.published for f in files}
    docs | "WriteDocuments" >> WriteShards(
        join(staging, "data"),
        "data",
        DOCUMENT_SCHEMA,
        functools.partial(document_row, sources=published),
        lambda d: (d.id, d.source, d.position),
        _doc_size,
        out_cfg.max_rows_per_shard,
        out_cfg.max_bytes_per_shard,
        out_cfg.compression,
    )
    lineage | "WriteLineage" >> WriteShards(
        join(staging, "lineage"),
        "lineage",
        LINEAGE_SCHEMA,
        lineage_row,
        lambda f: (f.id, f.source, f.position),
        _small,
        out_cfg.max_lineage_rows_per_shard,
        out_cfg.max_bytes_per_shard,
        out_cfg.compression,
    )
    dead_letters | "WriteDeadLetters" >> WriteShards(
        join(staging, "dead_letter"),
        "dead_letter",
        DEAD_LETTER_SCHEMA,
        dead_letter_row,
        lambda d: (d.id, d.source, d.position),
        _small,
        out_cfg.max_lineage_rows_per_shard,
        out_cfg.max_bytes_per_shard,
        out_cfg.compression,
    )

    stats.append(_profile(read[MAIN], docs, lineage))
    examples = (
        lineage
        | "NotKept" >> beam.Filter(lambda f: f.fate != "kept")
        | "KeyByReason" >> beam.Map(lambda f: (f"{f.fate}:{f.reason}", f.id))
        | "FirstIdsPerReason" >> beam.combiners.Top.SmallestPerKey(EXAMPLES_PER_REASON)
        | "ExamplesAsList" >> beam.CombineGlobally(ToListCombineFn()).without_defaults()
    )

    if index_entries is not None:
        _write_index(docs, index_entries, index_params, join(staging, "index"), out_cfg)

    input_keys = (read[MAIN], read[DEAD]) | "AllInput" >> beam.Flatten()
    distinct = (
        lineage
        | "LineageIds" >> beam.Map(lambda f: f.id)
        | "DistinctIds" >> beam.Distinct()
        | "CountDistinct" >> beam.CombineGlobally(CountCombineFn()).without_defaults()
    )
    keys = (
        input_keys | "InputKeys" >> beam.Map(lambda _: ["input"]),
        lineage | "FateKeys" >> beam.Map(fate_keys),
    ) | "AllKeys" >> beam.Flatten()
    counts = keys | "CountAll" >> beam.CombineGlobally(CountKeys())
    stat_totals = (
        (tuple(stats) or (p | "NoStats" >> beam.Create([]),))
        | "AllStats" >> beam.Flatten()
        | "SumStats" >> beam.CombineGlobally(SumStats()).without_defaults()
    )
    # The global combines read as views go without Beam's defaults (each would cost a stage
    # of its own); the views' defaults are what the combines give for no input.
    (
        counts
        | "AddDistinctAndStats"
        >> beam.Map(
            lambda c, n, s, e: {**c, "distinct_ids": n, "stats": s, "examples": dict(e)},
            beam.pvalue.AsSingleton(distinct, default_value=0),
            beam.pvalue.AsSingleton(stat_totals, default_value={}),
            beam.pvalue.AsSingleton(examples, default_value=[]),
        )
        | "WriteCounts" >> beam.Map(write_json, join(staging, COUNTS_FILE))
    )
    return {"documents": docs, "lineage": lineage, "dead_letter": dead_letters}
