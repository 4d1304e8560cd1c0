"""The stage plan: which curation stages a recipe runs, in which order, under which names.

Names and order come from the recipe alone, without building any stage (building the PII stage
loads a Presidio registry and a key source; building near dedup reads index metadata), so the
launcher, the stage table and the timing table ask the plan, and only the pipeline builds.

Order (cheap stages first, expensive last; see DESIGN.md): Normalize -> DropExactDuplicates ->
Decontaminate -> FilterLanguage -> FilterLowQuality -> LimitTokens -> DropNearDuplicates ->
AnonymizePii -> FlagBias. Each stage is on by its recipe section's ``enabled`` (LimitTokens:
when ``length.tokenizer`` is set).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import apache_beam as beam

from thresher.config import PipelineConfig
from thresher.core.quality import RULE_SETS
from thresher.output import layout

READ_LABEL = "ReadCorpus"
READ_STAGE = "read"
WRITE_LABEL = "WriteAndAccount"

Section = Callable[[PipelineConfig, Mapping[str, float]], dict[str, Any]]


@dataclass(frozen=True)
class StageSpec:
    """One planned stage: its stable Beam label (Dataflow update compatibility and metric
    names depend on it), its name in lineage and metrics, how to build it, and the manifest
    section it derives from the run's summed stats, if any."""

    label: str
    name: str
    build: Callable[[PipelineConfig], beam.PTransform]
    section: tuple[str, Section] | None = None


def _normalize(c: PipelineConfig) -> beam.PTransform:
    from thresher.stages.normalize import Normalize

    return Normalize(c.normalize)


@dataclass(frozen=True)
class Earlier:
    """What a batch of a batched run deduplicates against: the exact-dedup keys files,
    near-dedup index shards and source-id files of the batches before it (empty for the first
    batch)."""

    keys: tuple[str, ...] = ()
    index: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()  # source ids claimed (io.read.IDS), when input.id_field is set


def _exact(c: PipelineConfig) -> beam.PTransform:
    from thresher.stages.exact_dedup import DropExactDuplicates

    return DropExactDuplicates(c.dedup.exact)


def _decontaminate(c: PipelineConfig) -> beam.PTransform:
    from thresher.stages.decontaminate import Decontaminate

    # the index file the workers load: under the run's staging, removed with it
    return Decontaminate(
        c.decontamination, layout.path(c.output.path, layout.STAGING, "decontamination")
    )


def _batched_exact(earlier: Earlier) -> Callable[[PipelineConfig], beam.PTransform]:
    def build(c: PipelineConfig) -> beam.PTransform:
        from thresher.stages.exact_dedup import DropExactDuplicates

        return DropExactDuplicates(c.dedup.exact, earlier.keys, emit_keys=True)

    return build


def _batched_near(earlier: Earlier) -> Callable[[PipelineConfig], beam.PTransform]:
    def build(c: PipelineConfig) -> beam.PTransform:
        from thresher.stages.near_dedup import DropNearDuplicates

        return DropNearDuplicates(c.dedup.near, earlier.index)

    return build


def _language(c: PipelineConfig) -> beam.PTransform:
    from thresher.stages.filters import FilterLanguage

    f = c.filters
    return FilterLanguage(f.language, f.mode == "annotate", track_groups=c.bias.enabled)


def _quality(c: PipelineConfig) -> beam.PTransform:
    from thresher.stages.filters import FilterLowQuality

    return FilterLowQuality(c.filters, track_groups=c.bias.enabled)


def _length(c: PipelineConfig) -> beam.PTransform:
    from thresher.stages.length import LimitTokens

    return LimitTokens(c.length)


def _near(c: PipelineConfig) -> beam.PTransform:
    from thresher.stages.near_dedup import DropNearDuplicates

    return DropNearDuplicates(c.dedup.near)


def _pii(c: PipelineConfig) -> beam.PTransform:
    from thresher.stages.pii import AnonymizePii

    return AnonymizePii(c.pii)


def _bias(c: PipelineConfig) -> beam.PTransform:
    from thresher.stages.bias import FlagBias

    return FlagBias(c.bias)


def _pii_section(c: PipelineConfig, stats: Mapping[str, float]) -> dict[str, Any]:
    from thresher.pii.report import manifest_section

    return manifest_section(c.pii, stats)


def _decontamination_section(c: PipelineConfig, stats: Mapping[str, float]) -> dict[str, Any]:
    from thresher.core import decontam

    d = c.decontamination
    return decontam.section(stats, [b.name for b in d.benchmarks], d.ngram, d.action)


def _bias_section(c: PipelineConfig, stats: Mapping[str, float]) -> dict[str, Any]:
    from thresher.core import bias as core_bias
    from thresher.stages.filters import CHAT_RULE_SET, QUALITY_FILTER

    b = c.bias
    section = core_bias.bias_section(
        stats,
        b.disparity.bound,
        b.disparity.min_group_size,
        b.disparity.confidence,
        (core_bias.TOXICITY_FILE, core_bias.IDENTITY_FILE),
    )
    # What "removed" means per filter: dropped, or only flagged/annotated (would drop).
    filter_mode = "drop" if c.filters.mode == "drop" else "annotate"
    actions = {name: filter_mode for name in (*RULE_SETS, CHAT_RULE_SET, QUALITY_FILTER)}
    actions["language"] = filter_mode
    actions["toxicity"] = "drop" if b.toxicity.drop else "flag"
    actions["identity_toxicity"] = "drop"
    for name, entry in section["disparity"]["filters"].items():
        entry["action"] = actions.get(name, "drop")
    return section


def _erasures(erased: Mapping[str, tuple[str, str]]) -> Callable[[PipelineConfig], Any]:
    def build(_: PipelineConfig) -> beam.PTransform:
        from thresher.stages.erasures import ApplyErasures

        return ApplyErasures(erased)

    return build


def stage_plan(
    config: PipelineConfig,
    erased: Mapping[str, tuple[str, str]] | None = None,
    earlier: Earlier | None = None,
) -> list[StageSpec]:
    """The enabled stages between reading and writing, in pipeline order (nothing is built).

    ``erased`` (record id -> (reason, receipt stamp)) comes from erasure receipts carried over
    a rerun; when given, ``ApplyErasures`` runs first so erased records never come back.
    ``earlier`` (batched runs): the dedup stages also deduplicate against earlier batches, and
    exact dedup emits its kept keys for the batches after.
    """
    exact = _exact if earlier is None else _batched_exact(earlier)
    near = _near if earlier is None else _batched_near(earlier)
    f = config.filters
    wanted = [
        (bool(erased), StageSpec("ApplyErasures", "forget", _erasures(erased or {}))),
        (config.normalize.enabled, StageSpec("Normalize", "normalize", _normalize)),
        (config.dedup.exact.enabled, StageSpec("DropExactDuplicates", "exact_dedup", exact)),
        # Benchmark contamination after exact dedup (fewer records) and before the expensive
        # stages; a no-op while no benchmark is named.
        (
            config.decontamination.enabled and bool(config.decontamination.benchmarks),
            StageSpec(
                "Decontaminate",
                "decontaminate",
                _decontaminate,
                ("decontamination", _decontamination_section),
            ),
        ),
        # Language first, as FineWeb does: the quality rules (stop words, C4 punctuation) are
        # English-centric and would otherwise drop other-language text for the wrong reason.
        (
            f.enabled and f.language.enabled,
            StageSpec("FilterLanguage", "filter_language", _language),
        ),
        # The chat rules alone keep the stage: conversations must not pass unfiltered when
        # every web-document rule set is off.
        (
            f.enabled and (f.chat.enabled or any(getattr(f, n).enabled for n in RULE_SETS)),
            StageSpec("FilterLowQuality", "filter_quality", _quality),
        ),
        # Token limits after the filters (fewer records to tokenize) and before near dedup, so
        # a truncated conversation is deduplicated as it is written.
        (config.length.tokenizer is not None, StageSpec("LimitTokens", "length", _length)),
        (config.dedup.near.enabled, StageSpec("DropNearDuplicates", "near_dedup", near)),
        # PII analysis, the most expensive stage, only sees what survived filters and dedup.
        (config.pii.enabled, StageSpec("AnonymizePii", "pii", _pii, ("pii", _pii_section))),
        (config.bias.enabled, StageSpec("FlagBias", "flag_bias", _bias, ("bias", _bias_section))),
    ]
    return [spec for enabled, spec in wanted if enabled]


def stage_names(plan: list[StageSpec]) -> list[str]:
    """Every stage a record can leave at, from reading on, in order."""
    return [READ_STAGE] + [s.name for s in plan]


def stage_labels(plan: list[StageSpec]) -> list[str]:
    return [READ_LABEL] + [s.label for s in plan]


def manifest_sections(config: PipelineConfig, stats: Mapping[str, float]) -> dict[str, Any]:
    """The manifest sections the planned stages derive from the run's summed ``stats``, and
    ``conversations`` when the run read any (the pipeline's profile step)."""
    sections = {
        spec.section[0]: spec.section[1](config, stats)
        for spec in stage_plan(config)
        if spec.section is not None
    }
    from thresher.stages.chat_profile import section

    conversations = section(stats)
    if conversations is not None:
        sections["conversations"] = conversations
    return sections
