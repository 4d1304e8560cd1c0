"""``FlagBias``: toxicity and identity-term signals, optional drop rules, representation."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.pvalue import PCollection, TaggedOutput

from thresher import progress
from thresher.config import BiasConfig
from thresher.core import bias as core_bias
from thresher.records import Document, dropped_fate
from thresher.stages._common import FATES, STATS, apply_guarded
from thresher.stages.filters import sum_stat_keys

STAGE = "flag_bias"


def bias_rules(cfg: BiasConfig) -> core_bias.BiasRules:
    """The recipe's ``bias`` section as the core decision's settings."""
    return core_bias.BiasRules(
        toxicity_threshold=cfg.toxicity.threshold,
        drop_toxic=cfg.toxicity.drop,
        min_cooccurrences=cfg.identity_toxicity.min_cooccurrences,
        drop_identity_toxic=cfg.identity_toxicity.drop,
    )


class _FlagFn(beam.DoFn):
    def __init__(self, cfg: BiasConfig) -> None:
        self._cfg = cfg
        self._total = Metrics.counter(STAGE, "total")
        self._flagged = Metrics.counter(STAGE, "toxicity_flagged")

    def setup(self) -> None:
        core_bias.load_lexicons()  # cached: loads once per process

    def process(self, doc: Document) -> Iterator[Any]:
        self._total.inc()
        progress.tick(STAGE)
        cfg = self._cfg
        rules = bias_rules(cfg)
        lex = core_bias.load_lexicons()
        window = cfg.identity_toxicity.window
        turns = core_bias.turn_bias(doc.messages, lex, window) if doc.is_chat else None
        if turns is None:
            values = core_bias.bias_signals(doc.text, lex, window)
        else:
            values = core_bias.chat_bias_signals(turns)
        verdict = core_bias.decide(values, rules)
        toxic, reason = verdict.toxic, verdict.reason
        values["toxicity_flag"] = float(toxic)
        if toxic:
            self._flagged.inc()
        groups = core_bias.groups_mentioned(values)
        # "toxicity" is a filter in the disparity report even when it only flags: lexicon
        # scores are known to flag identity mentions more often than other text.
        keys = core_bias.filter_keys("toxicity", groups, toxic)
        if cfg.identity_toxicity.drop and not (cfg.toxicity.drop and toxic):
            keys += core_bias.filter_keys("identity_toxicity", groups, verdict.near)
        if reason is None:
            keys += core_bias.output_keys(values, toxic)
        if reason is None and turns is not None:
            # per-role counts of the kept turns: a Counter, whose counts CountKeys adds up
            # (Counter.update), rather than one key per term
            counts = core_bias.role_keys(turns, rules.toxicity_threshold)
            counts.update(keys)
            yield TaggedOutput(STATS, counts)
        else:
            yield TaggedOutput(STATS, tuple(keys))
        if reason is not None:
            Metrics.counter(STAGE, f"dropped.{reason}").inc()
            details: dict[str, Any] = {
                "signals": dict(sorted(values.items())),
                "toxicity_threshold": cfg.toxicity.threshold,
                "min_cooccurrences": cfg.identity_toxicity.min_cooccurrences,
            }
            decider = core_bias.deciding_turn(turns or (), reason, rules)
            if decider is not None:
                details["turn"] = decider.turn
                details["role"] = decider.role
            yield TaggedOutput(FATES, dropped_fate(doc, STAGE, reason, details))
            return
        yield dataclasses.replace(doc, signals={**doc.signals, **values})


class FlagBias(beam.PTransform):
    """Score toxicity and count identity terms (``thresher.core.bias``) on every record.

    Input ``PCollection[Document]``; output ``{"main", "fates", "dead_letter", "stats"}``.
    Kept records get ``toxicity_terms``, ``toxicity_score`` (toxic terms per word),
    ``toxicity_flag`` (score above ``bias.toxicity.threshold``),
    ``toxic_identity_cooccurrences`` and ``identity_<group>`` counts in ``signals``
    (recomputed on this stage's input text, which the output holds). Drops only when asked:
    ``bias.toxicity.drop`` (reason ``toxic_content``) and ``bias.identity_toxicity.drop``
    (reason ``toxic_identity_cooccurrence``); ``details`` hold the signals and thresholds.
    Stats: disparity keys for ``toxicity`` (and ``identity_toxicity``) and representation keys
    (``bias.output...``) of the records it keeps. Conversations are scanned turn by turn
    (``thresher.core.bias.turn_bias``): their signals sum the turns' counts, with
    ``toxicity_score`` the highest turn's, so a conversation is flagged (or dropped) when one
    turn is over the threshold, and a drop's ``details`` name that ``turn`` and its ``role``;
    kept conversations add per-role stats (``bias.role.<role>.turns``, ``.toxic_turns``,
    ``.toxicity_terms``, ``.identity_terms``, ``.group.<group>.turns``), reported in the
    manifest's ``bias.roles``. Deterministic. Output can hold raw PII
    (when PII anonymization is off). Metrics (namespace ``flag_bias``): ``total``,
    ``toxicity_flagged``, ``dropped.<reason>``, ``dead_letter``.
    """

    def __init__(self, cfg: BiasConfig) -> None:
        super().__init__()
        self._cfg = cfg

    def expand(self, docs: PCollection) -> dict[str, PCollection]:
        out = apply_guarded(docs, "ScoreBias", _FlagFn(self._cfg), STAGE, extra=(STATS,))
        out[STATS] = sum_stat_keys(out[STATS], "BiasStats")
        return out
