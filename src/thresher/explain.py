"""``thresher explain``: the whole history of one input record, from lineage (never text)."""

from __future__ import annotations

import json
from typing import Any

import pyarrow.compute as pc

from thresher.errors import InputError
from thresher.output import fs, layout, read_manifest
from thresher.records import derived_id


def _rows(out: str, kind: str, column: str, value: str) -> list[dict[str, Any]]:
    """Rows of ``out/kind`` whose ``column`` equals ``value``, read through Beam's
    FileSystems (any Beam path), one shard at a time."""
    found: list[dict[str, Any]] = []
    for shard in layout.shards(out, kind):
        table = fs.read_table(shard)
        found.extend(table.filter(pc.equal(table[column], value)).to_pylist())
    return found


def _by_derived_id(out: str, derived: str) -> list[dict[str, Any]]:
    """A record that kept its source id is still found by the id thresher derives from its
    source and position (what a run without ``input.id_field`` would have called it)."""
    for shard in layout.shards(out, layout.LINEAGE):
        table = fs.read_table(shard)
        sources, positions = table["source"].to_pylist(), table["position"].to_pylist()
        for i, (source, position) in enumerate(zip(sources, positions, strict=True)):
            if derived_id(source, position) == derived:
                return [table.slice(i, 1).to_pylist()[0]]
    return []


def _in_earlier_output(out: str, record_id: str) -> dict[str, Any] | None:
    """Where an incremental run's ``duplicate_of`` lives: the earlier output (named in this
    run's ``dedup.near.against``) whose near-dedup index holds ``record_id``."""
    near = read_manifest(out).recipe.get("dedup", {}).get("near", {})
    for earlier in near.get("against") or []:
        for hit in _rows(earlier, "index", "id", record_id)[:1]:
            return {"output": earlier, "source": hit["source"], "position": hit["position"]}
    return None


def explain(out: str, record_id: str) -> dict[str, Any]:
    """Everything the output knows about ``record_id``: lineage row, dead-letter row, the
    annotations of the kept record (not its text), its duplicates and, for a duplicate, the
    record it duplicates."""
    layout.require_output(out)
    lineage = _rows(out, "lineage", "id", record_id) or _by_derived_id(out, record_id)
    if not lineage:
        raise InputError(f"record id {record_id!r} is not in {out}/lineage")
    record_id = lineage[0]["id"]
    row = lineage[0]
    story: dict[str, Any] = {"record": row}
    if row.get("details"):
        row["details"] = json.loads(row["details"])
    if row["fate"] == "dead_letter":
        story["dead_letter"] = _rows(out, "dead_letter", "id", record_id)
    if row["fate"] == "kept":
        kept = _rows(out, "data", "id", record_id)
        if kept:
            k = kept[0]
            story["annotations"] = {
                "language": k.get("language"),
                "language_score": k.get("language_score"),
                "signals": {s["name"]: s["value"] for s in k.get("signals") or []},
                "modifications": k.get("modifications"),
                "text_chars": len(k["text"]),
                # PII replaced: types, operators, fields and output offsets, never values
                "pii": [
                    {x: f[x] for x in ("field", "entity_type", "operator", "start", "end")}
                    for f in k.get("pii") or []
                ],
            }
    if row.get("duplicate_of"):
        target = _rows(out, "lineage", "id", row["duplicate_of"])
        story["duplicate_of"] = target[0] if target else None
        if not target:
            story["duplicate_of_earlier"] = _in_earlier_output(out, row["duplicate_of"])
    dups = _rows(out, "lineage", "duplicate_of", record_id)
    story["duplicates"] = {"count": len(dups), "ids": sorted(d["id"] for d in dups)[:20]}
    return story


def _num(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return ", ".join(_num(v) for v in value) or "none"
    return str(value)


def _compare(value: float, threshold: float) -> str:
    if value < threshold:
        return "below"
    return "above" if value > threshold else "at"


def _turn(details: dict[str, Any]) -> str:
    """`` at turn 3 (assistant)`` for a conversation's decision that one turn made."""
    if "turn" not in details:
        return ""
    role = f" ({details['role']})" if details.get("role") else ""
    return f" at turn {details['turn']}{role}"


def _rule(reason: str, details: dict[str, Any]) -> tuple[str, set[str]]:
    """The rule that decided, its value and its threshold, in one line; and the signal names
    that line already shows."""
    signals = details.get("signals") or {}
    if "value" in details and "threshold" in details:
        value, threshold = details["value"], details["threshold"]
        where = f" (rule set {details['rule_set']})" if details.get("rule_set") else ""
        return (
            f"{reason}: value {_num(value)}, {_compare(value, threshold)} the threshold "
            f"{_num(threshold)}{where}{_turn(details)}",
            set(),
        )
    if "min_confidence" in details:
        return (
            f"{reason}: language {details.get('language')} with score "
            f"{_num(details.get('language_score'))}; allowed {_num(details.get('languages'))}, "
            f"minimum score {_num(details['min_confidence'])}",
            set(),
        )
    if "toxicity_threshold" in details:
        return (
            f"{reason}: toxicity_score {_num(signals.get('toxicity_score'))} (threshold "
            f"{_num(details['toxicity_threshold'])}), toxic_identity_cooccurrences "
            f"{_num(signals.get('toxic_identity_cooccurrences'))} (minimum "
            f"{_num(details.get('min_cooccurrences'))})",
            {"toxicity_score", "toxic_identity_cooccurrences"},
        )
    rest = ", ".join(f"{k} {_num(v)}" for k, v in sorted(details.items()) if k != "signals")
    return (f"{reason}: {rest}" if rest else reason), set()


def _signal_lines(label: str, signals: dict[str, Any], skip: set[str]) -> list[str]:
    """``name value`` pairs, a few per line, under ``label``."""
    pairs = [f"{k} {_num(v)}" for k, v in sorted(signals.items()) if k not in skip]
    lines, line = [], ""
    for pair in pairs:
        if line and len(line) + len(pair) > 86:
            lines.append(line)
            line = ""
        line = f"{line}, {pair}" if line else pair
    if line:
        lines.append(line)
    return [f"{label if i == 0 else '':<11}{text}" for i, text in enumerate(lines)]


def _decision_lines(r: dict[str, Any]) -> list[str]:
    """A dropped record leads with its rule, value and threshold, then the other signals;
    other fates keep their details as ``name value`` pairs."""
    details = r.get("details") or {}
    found = _benchmark_lines(details)
    if found:  # decontamination: the benchmark items, never their text
        return [f"rule       {r.get('reason') or 'annotated'}: benchmark items found", *found]
    if r["fate"] == "dropped" and r.get("reason"):
        rule, shown = _rule(r["reason"], details)
        others = _signal_lines("signals", details.get("signals") or {}, shown)
        return [f"rule       {rule}", *others]
    if details:
        return _signal_lines("details", details, set())
    return []


def _benchmark_lines(details: dict[str, Any]) -> list[str]:
    """Decontamination details (dropped, or kept with ``action: annotate``), one line per
    benchmark item found."""
    d = details.get("decontamination", details)
    if not isinstance(d, dict) or "benchmarks" not in d:
        return []
    lines = []
    for name, b in sorted(d["benchmarks"].items()):
        for item in b["items"]:
            how = (
                f"{item['ngrams_matched']} of its {item['item_ngrams']} {d['ngram']}-grams "
                f"({100 * item['fraction']:.1f}%)"
                if item["match"] == "ngram"
                else "the whole item"
            )
            lines.append(f"benchmark  {name} item {item['item']}: {how}")
        if b["items_matched"] > len(b["items"]):
            lines.append(f"benchmark  {name}: {b['items_matched']} items matched in all")
    return lines


def render(story: dict[str, Any]) -> str:
    r = story["record"]
    lines = [
        f"record     {r['id']}",
        f"source     {r['source']} (position {r['position']})",
        f"fate       {r['fate']} at stage '{r['stage']}'"
        + (f", reason '{r['reason']}'" if r.get("reason") else ""),
        *_decision_lines(r),
    ]
    if r.get("cluster_id"):
        lines.append(f"cluster    {r['cluster_id']}")
    if r.get("duplicate_of"):
        t = story.get("duplicate_of")
        where = f" ({t['source']} position {t['position']}, fate {t['fate']})" if t else ""
        e = story.get("duplicate_of_earlier")
        if e:
            where = f" (earlier output {e['output']}: {e['source']} position {e['position']})"
        lines.append(f"duplicate of {r['duplicate_of']}{where}")
    for dl in story.get("dead_letter", []):
        lines.append(f"error      {dl['error_type']}: {dl['message']}")
    ann = story.get("annotations")
    if ann:
        lines.append(
            f"kept       {ann['text_chars']} characters; modifications {ann['modifications']}"
        )
        if ann["language"]:
            lines.append(f"language   {ann['language']} ({ann['language_score']:.3f})")
        lines += _signal_lines("signals", ann["signals"], set())
        for f in ann.get("pii") or []:
            where = f["field"] or "text"
            lines.append(
                f"pii        {f['entity_type']} in {where} [{f['start']}:{f['end']}] "
                f"replaced by {f['operator']}"
            )
    d = story["duplicates"]
    if d["count"]:
        lines.append(
            f"duplicates {d['count']} removed as duplicates of this record: {', '.join(d['ids'])}"
        )
    return "\n".join(lines)
