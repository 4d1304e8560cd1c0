"""``FilterLowQuality`` and ``FilterLanguage``: heuristic quality rules and language ID.

The logic lives in ``thresher.core.quality`` and ``thresher.core.language``; these stages
wire it, count, and emit the per-filter, per-identity-group stats that the disparity report
in the manifest's ``bias`` section is computed from.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.pvalue import PCollection, TaggedOutput
from apache_beam.utils import shared

from thresher import progress
from thresher.accounting import CountKeys
from thresher.config import FiltersConfig, LanguageFilterConfig
from thresher.core import bias as core_bias
from thresher.core.language import build_detector, identify
from thresher.core.quality import RULE_SETS, QualityRules, evaluate
from thresher.records import Document, dropped_fate
from thresher.stages._common import FATES, MAIN, STATS, apply_guarded

QUALITY_STAGE = "filter_quality"
LANGUAGE_STAGE = "filter_language"
QUALITY_FILTER = "low_quality"  # the stage as one filter in the disparity report


def quality_rules(cfg: FiltersConfig) -> QualityRules:
    """The recipe's ``filters`` section as the quality rules' own settings."""
    return QualityRules.from_sections({name: getattr(cfg, name).model_dump() for name in RULE_SETS})


C4_MODIFICATION = "c4_remove_lines"


def sum_stat_keys(keys: PCollection, label: str) -> PCollection:
    """Per-record tuples of stats keys -> ``(key, count)`` pairs, pre-combined per bundle."""
    return (
        keys
        | f"{label}Count" >> beam.CombineGlobally(CountKeys())
        | f"{label}Items" >> beam.FlatMap(lambda counts: sorted(counts.items()))
    )


def _groups(doc: Document, track: bool) -> tuple[tuple[str, ...], dict[str, float]]:
    """Identity groups the record mentions, reusing the ``identity_<group>`` signals an
    earlier filter stage computed (so every filter sees the same groups for a record)."""
    if not track:
        return (), {}
    if "identity_gender" in doc.signals:
        return core_bias.groups_mentioned(doc.signals), {}
    counts = core_bias.identity_counts(doc.text, core_bias.load_lexicons())
    signals = {f"identity_{g}": float(n) for g, n in counts.items()}
    return core_bias.groups_mentioned(signals), signals


class _QualityFn(beam.DoFn):
    def __init__(self, cfg: FiltersConfig, track_groups: bool) -> None:
        self._cfg = cfg
        self._rules = quality_rules(cfg)
        self._annotate = cfg.mode == "annotate"
        self._track = track_groups
        self._enabled = [n for n in RULE_SETS if getattr(cfg, n).enabled]
        self._total = Metrics.counter(QUALITY_STAGE, "total")
        self._kept = Metrics.counter(QUALITY_STAGE, "kept")
        self._rewritten = Metrics.counter(QUALITY_STAGE, "c4_lines_removed")

    def setup(self) -> None:
        if self._track:
            core_bias.load_lexicons()  # once per process (cached), not per element

    def process(self, doc: Document) -> Iterator[Any]:
        self._total.inc()
        progress.tick(QUALITY_STAGE)
        groups, identity = _groups(doc, self._track)
        out = evaluate(doc.text, self._rules, annotate=self._annotate)
        d = out.decision
        enabled = self._enabled
        if self._track:
            keys: list[str] = []
            reached = enabled
            if not self._annotate and out.rule_set is not None:
                reached = enabled[: enabled.index(out.rule_set) + 1]
            for name in reached:
                keys += core_bias.filter_keys(name, groups, name in out.failing)
            keys += core_bias.filter_keys(QUALITY_FILTER, groups, bool(out.failing))
            yield TaggedOutput(STATS, tuple(keys))
        signals = {**doc.signals, **identity, **d.signals}
        if self._annotate:
            for name in enabled:
                signals[f"{name}_pass"] = 0.0 if name in out.failing else 1.0
        if not d.keep and not self._annotate:
            if d.reason is None:  # cannot happen: a failing decision names its rule
                raise ValueError("quality decision dropped a record without naming the rule")
            Metrics.counter(QUALITY_STAGE, f"dropped.{d.reason}").inc()
            details = {"rule_set": out.rule_set, **d.details()}
            details["signals"] = {**details["signals"], **identity}
            yield TaggedOutput(
                FATES,
                dropped_fate(doc, QUALITY_STAGE, d.reason, details),
            )
            return
        self._kept.inc()
        changes: dict[str, Any] = {"signals": signals}
        if d.text is not None:
            self._rewritten.inc()
            changes["text"] = d.text
            changes["modifications"] = (*doc.modifications, C4_MODIFICATION)
        yield dataclasses.replace(doc, **changes)


class FilterLowQuality(beam.PTransform):
    """Apply the heuristic quality rule sets (``thresher.core.quality.evaluate``).

    Input ``PCollection[Document]``; output ``{"main", "fates", "dead_letter", "stats"}``.
    ``filters.mode: drop``: a record failing a rule leaves as ``dropped`` with the rule's
    snake_case reason (e.g. ``gopher_stop_words``) and ``details`` = rule set, failing value,
    threshold and every signal computed; kept records carry all signals in ``signals``, and
    with ``filters.c4.mode: remove_lines`` a rewritten text plus the modification
    ``c4_remove_lines``. ``filters.mode: annotate``: every record is kept with every signal
    and a ``<rule_set>_pass`` flag (0/1); no text is rewritten. With ``track_groups``, records
    also get ``identity_<group>`` counts and the stage emits per-rule-set disparity stats
    (``bias.filter.<rule_set>...``) for every record it sees, dropped or not. Deterministic.
    Output can hold raw PII. Metrics (namespace ``filter_quality``): ``total``, ``kept``,
    ``dropped.<reason>``, ``c4_lines_removed``, ``dead_letter``.
    """

    def __init__(self, cfg: FiltersConfig, track_groups: bool = True) -> None:
        super().__init__()
        self._cfg = cfg
        self._track = track_groups

    def expand(self, docs: PCollection) -> dict[str, PCollection]:
        out = apply_guarded(
            docs,
            "ApplyQualityRules",
            _QualityFn(self._cfg, self._track),
            QUALITY_STAGE,
            extra=(STATS,),
        )
        out[STATS] = sum_stat_keys(out[STATS], "QualityStats")
        return out


class _DetectorHolder:
    """Weak-referenceable holder for Beam's ``Shared`` (lingua's detector is not)."""

    def __init__(self, detector: Any) -> None:
        self.detector = detector


class _LanguageFn(beam.DoFn):
    def __init__(self, cfg: LanguageFilterConfig, annotate: bool, track_groups: bool) -> None:
        self._cfg = cfg
        self._annotate = annotate
        self._track = track_groups
        self._languages = frozenset(cfg.languages)
        self._shared = shared.Shared()
        self._detector: Any = None
        self._total = Metrics.counter(LANGUAGE_STAGE, "total")
        self._kept = Metrics.counter(LANGUAGE_STAGE, "kept")

    def setup(self) -> None:
        low = self._cfg.low_accuracy
        # Shared keeps only a weak reference: hold the holder itself, or it is collected after
        # setup and the next DoFn instance pays lingua's lazy model loading again.
        self._holder = self._shared.acquire(
            lambda: _DetectorHolder(build_detector(low)), tag=f"lingua-low={low}"
        )
        self._detector = self._holder.detector
        if self._track:
            core_bias.load_lexicons()

    def _verdict(self, language: str | None, score: float) -> str | None:
        if not self._languages:
            return None
        if language not in self._languages:
            return "language_not_allowed"
        if score < self._cfg.min_confidence:
            return "language_low_confidence"
        return None

    def process(self, doc: Document) -> Iterator[Any]:
        self._total.inc()
        progress.tick(LANGUAGE_STAGE)
        groups, identity = _groups(doc, self._track)
        language, score = identify(self._detector, doc.text, self._cfg.max_chars)
        reason = self._verdict(language, score)
        if self._track:
            yield TaggedOutput(
                STATS, tuple(core_bias.filter_keys("language", groups, bool(reason)))
            )
        signals = {**doc.signals, **identity}
        if self._annotate:
            signals["language_pass"] = 0.0 if reason else 1.0
        if reason and not self._annotate:
            Metrics.counter(LANGUAGE_STAGE, f"dropped.{reason}").inc()
            details = {
                "language": language,
                "language_score": score,
                "languages": sorted(self._languages),
                "min_confidence": self._cfg.min_confidence,
            }
            yield TaggedOutput(
                FATES,
                dropped_fate(doc, LANGUAGE_STAGE, reason, details),
            )
            return
        self._kept.inc()
        yield dataclasses.replace(doc, language=language, language_score=score, signals=signals)


class FilterLanguage(beam.PTransform):
    """Identify every record's language with lingua and keep the recipe's languages.

    Input ``PCollection[Document]``; output ``{"main", "fates", "dead_letter", "stats"}``.
    Every kept record gets ``language`` (ISO 639-1, or null when lingua cannot tell) and
    ``language_score`` (lingua's confidence). ``filters.mode: drop`` with a non-empty
    ``filters.language.languages``: a record in another language leaves as ``dropped``
    (``language_not_allowed``), one below ``min_confidence`` as ``language_low_confidence``;
    ``details`` hold the language, score and settings. ``annotate``: nothing is dropped and
    ``signals["language_pass"]`` says whether it would have been. The detector is built once
    per worker process (``Shared``). Deterministic. Output can hold raw PII. Metrics
    (namespace ``filter_language``): ``total``, ``kept``, ``dropped.<reason>``,
    ``dead_letter``.
    """

    def __init__(
        self, cfg: LanguageFilterConfig, annotate: bool = False, track_groups: bool = True
    ) -> None:
        super().__init__()
        self._cfg = cfg
        self._annotate = annotate
        self._track = track_groups

    def expand(self, docs: PCollection) -> dict[str, PCollection]:
        out = apply_guarded(
            docs,
            "IdentifyLanguage",
            _LanguageFn(self._cfg, self._annotate, self._track),
            LANGUAGE_STAGE,
            extra=(STATS,),
        )
        out[STATS] = sum_stat_keys(out[STATS], "LanguageStats")
        return out


__all__ = ["MAIN", "FilterLanguage", "FilterLowQuality"]
