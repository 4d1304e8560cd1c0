"""``thresher explain``: the whole history of one input record, from lineage (never text)."""

from __future__ import annotations

import json
from typing import Any

import pyarrow.dataset as ds
from apache_beam.io.filesystems import FileSystems

from thresher.errors import InputError


def _rows(out: str, kind: str, column: str, value: str) -> list[dict[str, Any]]:
    path = FileSystems.join(out, kind)
    if not FileSystems.exists(path):
        return []
    dataset = ds.dataset(path, format="parquet")
    return dataset.to_table(filter=ds.field(column) == value).to_pylist()


def _in_earlier_output(out: str, record_id: str) -> dict[str, Any] | None:
    """Where an incremental run's ``duplicate_of`` lives: the earlier output (named in this
    run's ``dedup.near.against``) whose near-dedup index holds ``record_id``."""
    with FileSystems.open(FileSystems.join(out, "manifest.json")) as fh:
        manifest = json.loads(fh.read().decode("utf-8"))
    near = manifest.get("recipe", {}).get("dedup", {}).get("near", {})
    for earlier in near.get("against") or []:
        for hit in _rows(earlier, "index", "id", record_id)[:1]:
            return {"output": earlier, "source": hit["source"], "position": hit["position"]}
    return None


def explain(out: str, record_id: str) -> dict[str, Any]:
    """Everything the output knows about ``record_id``: lineage row, dead-letter row, the
    annotations of the kept record (not its text), its duplicates and, for a duplicate, the
    record it duplicates."""
    if not FileSystems.exists(FileSystems.join(out, "manifest.json")):
        raise InputError(f"{out!r} is not a thresher output (no manifest.json)")
    lineage = _rows(out, "lineage", "id", record_id)
    if not lineage:
        raise InputError(f"record id {record_id!r} is not in {out}/lineage")
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
    ]
    if r.get("details"):
        lines.append(f"details    {json.dumps(r['details'], sort_keys=True)}")
        lines += _benchmark_lines(r["details"])
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
        if ann["signals"]:
            lines.append(f"signals    {json.dumps(ann['signals'], sort_keys=True)}")
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
