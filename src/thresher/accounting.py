"""The run's books: every input record counted once, by fate, reason, stage and source."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from thresher.errors import AccountingError
from thresher.records import FATES, Fate


def fate_keys(fate: Fate) -> list[str]:
    """The counters one lineage row contributes to."""
    keys = [
        "lineage_rows",
        f"fate:{fate.fate}",
        f"stage_fate:{fate.stage}:{fate.fate}",
        f"source:{fate.source}",
    ]
    if fate.reason:
        keys.append(f"reason:{fate.fate}:{fate.reason}")
    return keys


class CountKeys(beam.CombineFn):
    """Sum string-keyed counters; the accumulator is one small dict (keys are bounded by
    fates x reasons x stages + input files)."""

    def create_accumulator(self) -> Counter[str]:
        return Counter()

    def add_input(self, acc: Counter[str], keys: Iterable[str]) -> Counter[str]:
        acc.update(keys)
        return acc

    def merge_accumulators(self, accs: Iterable[Counter[str]]) -> Counter[str]:
        out: Counter[str] = Counter()
        for a in accs:
            out.update(a)
        return out

    def extract_output(self, acc: Counter[str]) -> dict[str, int]:
        return dict(sorted(acc.items()))


class SumStats(beam.CombineFn):
    """Sum ``(key, number)`` statistics into one dict (keys bounded by the stages' design)."""

    def create_accumulator(self) -> dict[str, float]:
        return {}

    def add_input(self, acc: dict[str, float], item: tuple[str, float]) -> dict[str, float]:
        key, value = item
        acc[key] = acc.get(key, 0) + value
        return acc

    def merge_accumulators(self, accs: Iterable[dict[str, float]]) -> dict[str, float]:
        out: dict[str, float] = {}
        for a in accs:
            for k, v in a.items():
                out[k] = out.get(k, 0) + v
        return out

    def extract_output(self, acc: dict[str, float]) -> dict[str, float]:
        return dict(sorted(acc.items()))


class SumStatGroups(SumStats):
    """``SumStats`` over one iterable of ``(key, number)`` pairs per element: a record's
    statistics travel as one element, not one per key (Beam's per-element cost is most of a
    cheap statistic's)."""

    def add_input(  # type: ignore[override]
        self, acc: dict[str, float], items: Iterable[tuple[str, float]]
    ) -> dict[str, float]:
        for key, value in items:
            acc[key] = acc.get(key, 0) + value
        return acc


def write_json(obj: Mapping[str, Any], path: str) -> str:
    with FileSystems.create(path) as fh:
        fh.write(json.dumps(obj, sort_keys=True).encode("utf-8"))
    return path


def summarize(raw: Mapping[str, int]) -> dict[str, Any]:
    """Turn the raw counters into the manifest's ``counts`` section."""
    counts: dict[str, Any] = {"input": int(raw.get("input", 0))}
    for fate in FATES:
        counts[fate] = int(raw.get(f"fate:{fate}", 0))
    for fate in ("dropped", "duplicate", "dead_letter"):
        prefix = f"reason:{fate}:"
        counts[f"{fate}_by_reason"] = {
            k[len(prefix) :]: v for k, v in sorted(raw.items()) if k.startswith(prefix)
        }
    return counts


def check_balance(raw: Mapping[str, int]) -> dict[str, Any]:
    """Verify ``input == kept + dropped + duplicate + dead_letter`` and one lineage row per id.

    Returns the manifest's ``accounting`` section; raises ``AccountingError`` when the books do
    not balance (the message holds counts only).
    """
    counts = summarize(raw)
    total = sum(counts[f] for f in FATES)
    rows = int(raw.get("lineage_rows", 0))
    distinct = int(raw.get("distinct_ids", 0))
    section = {
        "equation": "input == kept + dropped + duplicate + dead_letter",
        "input": counts["input"],
        "sum_of_fates": total,
        "lineage_rows": rows,
        "distinct_lineage_ids": distinct,
        "balanced": counts["input"] == total and rows == total and distinct == rows,
    }
    if not section["balanced"]:
        raise AccountingError(
            "the books do not balance: "
            f"input={counts['input']}, kept={counts['kept']}, dropped={counts['dropped']}, "
            f"duplicate={counts['duplicate']}, dead_letter={counts['dead_letter']}, "
            f"lineage rows={rows}, distinct ids={distinct}; this is a thresher bug, please "
            "report it with the manifest"
        )
    return section
