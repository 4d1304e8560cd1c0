"""``FilterLowQuality`` and ``FilterLanguage``: heuristic quality rules and language ID.

The logic lives in ``thresher.core.quality`` and ``thresher.core.language``; these stages
wire it, count, and emit the per-filter, per-identity-group stats that the disparity report
in the manifest's ``bias`` section is computed from.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.pvalue import PCollection, TaggedOutput
from apache_beam.utils import shared

from thresher import progress
from thresher.accounting import CountKeys
from thresher.config import ChatFilterConfig, FiltersConfig, LanguageFilterConfig
from thresher.core import bias as core_bias
from thresher.core import chat_quality
from thresher.core.chat_quality import ChatRules, RefusalMatcher, evaluate_chat
from thresher.core.language import CASCADE_SURE, build_detector, identify
from thresher.core.quality import RULE_SETS, QualityRules, evaluate
from thresher.errors import ConfigError
from thresher.records import Document, dropped_fate
from thresher.stages._common import FATES, MAIN, STATS, apply_guarded

QUALITY_STAGE = "filter_quality"
LANGUAGE_STAGE = "filter_language"
QUALITY_FILTER = "low_quality"  # the stage as one filter in the disparity report


def quality_rules(cfg: FiltersConfig) -> QualityRules:
    """The recipe's ``filters`` section as the quality rules' own settings."""
    return QualityRules.from_sections({name: getattr(cfg, name).model_dump() for name in RULE_SETS})


C4_MODIFICATION = "c4_remove_lines"
CHAT_RULE_SET = chat_quality.RULE_SET


@functools.cache
def refusal_matcher(path: str | None) -> RefusalMatcher:
    """The refusal phrase list of ``filters.chat.refusal_phrases_file`` (any Beam path; None:
    the shipped list), read once per process. A file that cannot be read, is not UTF-8 or
    holds no phrase raises ``ConfigError`` naming the key."""
    if path is None:
        return chat_quality.shipped_refusals()
    try:
        with FileSystems.open(path) as fh:
            raw = fh.read()
    except OSError as exc:  # Beam's BeamIOError is an OSError too
        raise ConfigError(
            f"filters.chat.refusal_phrases_file: cannot read {path!r} "
            f"({type(exc).__name__}); give a readable file, or null for the shipped list"
        ) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"filters.chat.refusal_phrases_file: {path!r} is not UTF-8 text; save it as UTF-8"
        ) from exc
    return RefusalMatcher.parse(text, path)


def _chat_matcher(cfg: ChatFilterConfig) -> RefusalMatcher | None:
    if not (cfg.enabled and cfg.refusals):
        return None
    return refusal_matcher(cfg.refusal_phrases_file)


def sum_stat_keys(keys: PCollection, label: str) -> PCollection:
    """Per-record tuples of stats keys -> ``(key, count)`` pairs, pre-combined per bundle.
    Without Beam's default (no input: no pairs either way), which would cost a stage."""
    return (
        keys
        | f"{label}Count" >> beam.CombineGlobally(CountKeys()).without_defaults()
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
        self._chat_rules = ChatRules.from_section(cfg.chat.model_dump())
        self._refusals: RefusalMatcher | None = None
        self._total = Metrics.counter(QUALITY_STAGE, "total")
        self._kept = Metrics.counter(QUALITY_STAGE, "kept")
        self._rewritten = Metrics.counter(QUALITY_STAGE, "c4_lines_removed")

    def setup(self) -> None:
        if self._track:
            core_bias.load_lexicons()  # once per process (cached), not per element
        self._refusals = _chat_matcher(self._cfg.chat)  # once per process (cached)

    def process(self, doc: Document) -> Iterator[Any]:
        self._total.inc()
        progress.tick(QUALITY_STAGE)
        groups, identity = _groups(doc, self._track)
        if doc.is_chat:
            yield from self._chat(doc, groups, identity)
            return
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

    def _chat(
        self, doc: Document, groups: tuple[str, ...], identity: dict[str, float]
    ) -> Iterator[Any]:
        """A conversation: the chat rules (``thresher.core.chat_quality``) instead of the
        web-document rule sets; its text is never rewritten."""
        if not self._chat_rules.enabled:  # chat rules off: nothing else fits a conversation
            if self._track:
                keys = core_bias.filter_keys(QUALITY_FILTER, groups, False)
                yield TaggedOutput(STATS, tuple(keys))
            self._kept.inc()
            yield dataclasses.replace(doc, signals={**doc.signals, **identity})
            return
        d = evaluate_chat(doc.messages, self._chat_rules, self._refusals, self._annotate)
        failed = not d.keep
        if self._track:
            keys = core_bias.filter_keys(CHAT_RULE_SET, groups, failed)
            keys += core_bias.filter_keys(QUALITY_FILTER, groups, failed)
            yield TaggedOutput(STATS, tuple(keys))
        signals = {**doc.signals, **identity, **d.signals}
        if self._annotate:
            signals[f"{CHAT_RULE_SET}_pass"] = 0.0 if failed else 1.0
        if failed and not self._annotate:
            Metrics.counter(QUALITY_STAGE, f"dropped.{d.reason}").inc()
            details = d.details()
            details["signals"] = {**details["signals"], **identity}
            yield TaggedOutput(FATES, dropped_fate(doc, QUALITY_STAGE, str(d.reason), details))
            return
        self._kept.inc()
        yield dataclasses.replace(doc, signals=signals)


class FilterLowQuality(beam.PTransform):
    """Apply the heuristic quality rule sets (``thresher.core.quality.evaluate``).

    Input ``PCollection[Document]``; output ``{"main", "fates", "dead_letter", "stats"}``.
    ``filters.mode: drop``: a record failing a rule leaves as ``dropped`` with the rule's
    snake_case reason (e.g. ``gopher_stop_words``) and ``details`` = rule set, failing value,
    threshold and every signal computed; kept records carry all signals in ``signals``, and
    with ``filters.c4.mode: remove_lines`` a rewritten text plus the modification
    ``c4_remove_lines``. ``filters.mode: annotate``: every record is kept with every signal
    and a ``<rule_set>_pass`` flag (0/1); no text is rewritten. Conversations
    (``Document.is_chat``) skip those rule sets and get the chat rules of ``filters.chat``
    instead (``thresher.core.chat_quality``: ``too_many_turns``, ``no_assistant_turn``,
    ``empty_response``, ``short_response``, ``long_response``, ``refusal``,
    ``repeated_response_ngrams``, ``copies_prompt``); a drop's ``details`` carry
    ``rule_set: chat``, the deciding ``turn`` index and ``role``, the numbers and, for
    ``refusal``, the ``phrase_line`` of the list, never text; kept ones get ``chat_*`` signals
    (and ``chat_pass`` in annotate mode) and are never rewritten. The refusal phrase list is
    read at construction (a bad file is a ``ConfigError``) and once per worker process. With
    ``track_groups``, records also get ``identity_<group>`` counts and the stage emits
    per-rule-set disparity stats (``bias.filter.<rule_set>...``, ``bias.filter.chat...`` for
    conversations) for every record it sees, dropped or not. Deterministic. Output can hold
    raw PII. Metrics (namespace ``filter_quality``): ``total``, ``kept``,
    ``dropped.<reason>``, ``c4_lines_removed``, ``dead_letter``.
    """

    def __init__(self, cfg: FiltersConfig, track_groups: bool = True) -> None:
        super().__init__()
        self._cfg = cfg
        self._track = track_groups

    def expand(self, docs: PCollection) -> dict[str, PCollection]:
        _chat_matcher(self._cfg.chat)  # a bad phrase file fails here, before the run
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
    """Weak-referenceable holder for Beam's ``Shared``, one per process and backend."""

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
        low, backend = self._cfg.low_accuracy, self._cfg.backend
        sure = max(CASCADE_SURE, self._cfg.min_confidence)
        # Shared keeps only a weak reference: hold the holder itself, or it is collected after
        # setup and the next DoFn instance pays the model loading again.
        self._holder = self._shared.acquire(
            lambda: _DetectorHolder(build_detector(low, backend, sure)),
            tag=f"{backend}-low={low}-sure={sure}",
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
    """Identify every record's language (``filters.language.backend``: fastText's lid.176
    backed by lingua, lingua or fastText alone) and keep the recipe's languages.

    Input ``PCollection[Document]``; output ``{"main", "fates", "dead_letter", "stats"}``.
    Every kept record gets ``language`` (ISO 639-1, or null when the text holds no letter or
    lingua cannot tell) and ``language_score`` (the confidence of the model that decided).
    ``filters.mode: drop`` with a non-empty ``filters.language.languages``: a record in another
    language leaves as ``dropped`` (``language_not_allowed``), one below ``min_confidence`` as
    ``language_low_confidence``;
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
