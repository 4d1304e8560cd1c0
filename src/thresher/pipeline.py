"""Compose the curation stages into one Beam pipeline.

Order (cheap stages first, expensive last; see DESIGN.md): ReadCorpus -> Normalize ->
DropExactDuplicates -> AnonymizePii -> WriteShards. Each stage is optional by its recipe
section's ``enabled``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.pvalue import PCollection

from thresher.accounting import CountKeys, SumStats, fate_keys, write_json
from thresher.config import PipelineConfig
from thresher.io.read import InputFile, ReadCorpus
from thresher.io.write import WriteShards
from thresher.records import DeadLetter, Document, kept_fate
from thresher.schema import (
    DEAD_LETTER_SCHEMA,
    DOCUMENT_SCHEMA,
    LINEAGE_SCHEMA,
    dead_letter_row,
    document_row,
    lineage_row,
)
from thresher.stages._common import DEAD, FATES, MAIN, STATS
from thresher.stages import exact_dedup, normalize
from thresher.stages import pii as pii_stage

COUNTS_FILE = "counts.json"


def curation_stages(config: PipelineConfig) -> list[tuple[str, str, beam.PTransform]]:
    """The enabled stages between reading and writing, in pipeline order.

    Each entry: (stable Beam label, stage name used in lineage and metrics, transform).
    """
    stages: list[tuple[str, str, beam.PTransform]] = []
    if config.normalize.enabled:
        stages.append(("Normalize", normalize.STAGE, normalize.Normalize(config.normalize)))
    if config.dedup.exact.enabled:
        stages.append(
            (
                "DropExactDuplicates",
                exact_dedup.STAGE,
                exact_dedup.DropExactDuplicates(config.dedup.exact),
            )
        )
    # Near-dedup, quality and language filters go above this line: PII analysis (the most
    # expensive stage) only sees the documents that survive them.
    if config.pii.enabled:
        stages.append(("AnonymizePii", pii_stage.STAGE, pii_stage.AnonymizePii(config.pii)))
    return stages


def manifest_sections(config: PipelineConfig, stats: dict[str, float]) -> dict[str, Any]:
    """Extra top-level manifest sections that stages derive from their summed ``stats``
    (e.g. ``bias``, ``pii``). Each stage module that needs one adds its call here."""
    sections: dict[str, Any] = {}
    if config.pii.enabled:
        from thresher.pii.report import manifest_section

        sections["pii"] = manifest_section(config.pii, stats)
    return sections


def _doc_size(doc: Document) -> int:
    return len(doc.text.encode("utf-8")) + 256


def _small(_: Any) -> int:
    return 256


def build_pipeline(
    p: beam.Pipeline, config: PipelineConfig, files: Sequence[InputFile], staging: str
) -> dict[str, PCollection]:
    """Add the whole curation flow to ``p``; staged outputs land under ``staging``.

    Returns the main PCollections (``documents``, ``lineage``, ``dead_letter``) for tests.
    """
    read = p | "ReadCorpus" >> ReadCorpus(files, config.input)
    docs: PCollection = read[MAIN]
    fates: list[PCollection] = []
    dead: list[PCollection] = [read[DEAD]]
    stats: list[PCollection] = []
    for label, _name, stage in curation_stages(config):
        out = docs | label >> stage
        docs = out[MAIN]
        fates.append(out[FATES])
        dead.append(out[DEAD])
        if STATS in out:
            stats.append(out[STATS])

    dead_letters = tuple(dead) | "AllDeadLetters" >> beam.Flatten()
    lineage = (
        *fates,
        docs | "KeptFates" >> beam.Map(kept_fate),
        dead_letters | "DeadLetterFates" >> beam.Map(DeadLetter.to_fate),
    ) | "AllFates" >> beam.Flatten()

    out_cfg = config.output
    join = FileSystems.join
    docs | "WriteDocuments" >> WriteShards(
        join(staging, "data"), "data", DOCUMENT_SCHEMA, document_row,
        lambda d: (d.id, d.source, d.position), _doc_size,
        out_cfg.max_rows_per_shard, out_cfg.max_bytes_per_shard, out_cfg.compression,
    )
    lineage | "WriteLineage" >> WriteShards(
        join(staging, "lineage"), "lineage", LINEAGE_SCHEMA, lineage_row,
        lambda f: (f.id, f.source, f.position), _small,
        1_000_000, out_cfg.max_bytes_per_shard, out_cfg.compression,
    )
    dead_letters | "WriteDeadLetters" >> WriteShards(
        join(staging, "dead_letter"), "dead_letter", DEAD_LETTER_SCHEMA, dead_letter_row,
        lambda d: (d.id, d.source, d.position), _small,
        1_000_000, out_cfg.max_bytes_per_shard, out_cfg.compression,
    )

    input_keys = (read[MAIN], read[DEAD]) | "AllInput" >> beam.Flatten()
    distinct = (
        lineage
        | "LineageIds" >> beam.Map(lambda f: f.id)
        | "DistinctIds" >> beam.Distinct()
        | "CountDistinct" >> beam.combiners.Count.Globally()
    )
    keys = (
        input_keys | "InputKeys" >> beam.Map(lambda _: ["input"]),
        lineage | "FateKeys" >> beam.Map(fate_keys),
    ) | "AllKeys" >> beam.Flatten()
    counts = keys | "CountAll" >> beam.CombineGlobally(CountKeys())
    stat_totals = (
        tuple(stats) or (p | "NoStats" >> beam.Create([]),)
    ) | "AllStats" >> beam.Flatten() | "SumStats" >> beam.CombineGlobally(SumStats())
    (
        counts
        | "AddDistinctAndStats"
        >> beam.Map(
            lambda c, n, s: {**c, "distinct_ids": n, "stats": s},
            beam.pvalue.AsSingleton(distinct),
            beam.pvalue.AsSingleton(stat_totals),
        )
        | "WriteCounts" >> beam.Map(write_json, join(staging, COUNTS_FILE))
    )
    return {"documents": docs, "lineage": lineage, "dead_letter": dead_letters}
