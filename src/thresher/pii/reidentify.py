"""``thresher reidentify DIR --key-file F --output NEW``: restore ``encrypt``-ed values.

For an authorized key holder only: reads the kept records of ``DIR``, decrypts every span whose
finding says ``operator == "encrypt"`` (in the text, in a conversation's turns, whose text view
is rebuilt, and in meta fields) with Presidio's AES ``Decrypt`` operator, and writes the
restored records to a new directory (never in place).
Values replaced by other operators (placeholder, hash, surrogate, mask, redact) cannot be
restored: they were never stored.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pyarrow as pa

from thresher.errors import ConfigError, OutputError
from thresher.output import fs, layout, read_manifest
from thresher.pii.keys import read_key_file
from thresher.pii.operators import decrypt_value
from thresher.pii.process import turn_index
from thresher.records import Turn, render_turns


def _restore(text: str, findings: list[dict[str, Any]], keys: Any) -> tuple[str, list[dict]]:
    """Decrypt the encrypted spans of one string; returns the new string and its findings
    with spans moved to the restored text."""
    out = []
    cursor = 0
    shift = 0
    new_findings = []
    for f in sorted(findings, key=lambda f: f["start"]):
        g = dict(f)
        g["start"] += shift
        if f["operator"] == "encrypt":
            original = decrypt_value(keys, text[f["start"] : f["end"]])
            out.append(text[cursor : f["start"]])
            out.append(original)
            cursor = f["end"]
            delta = len(original) - (f["end"] - f["start"])
            g["end"] = g["start"] + len(original)
            g["operator"] = "reidentified"
            shift += delta
        else:
            g["end"] += shift
        new_findings.append(g)
    out.append(text[cursor:])
    return "".join(out), new_findings


def _get(meta: Any, parts: list[str]) -> Any:
    node = meta
    for p in parts:
        node = node[int(p)] if isinstance(node, list) else node[p]
    return node


def _set(meta: Any, parts: list[str], value: Any) -> None:
    node = _get(meta, parts[:-1])
    if isinstance(node, list):
        node[int(parts[-1])] = value
    else:
        node[parts[-1]] = value


RECEIPT = "reidentified.json"


def _restore_row(row: dict[str, Any], keys: Any) -> int:
    """Restore the encrypted values of one row in place; returns how many were restored."""
    findings = row.get("pii") or []
    by_field: dict[str | None, list[dict]] = {}
    for f in findings:
        by_field.setdefault(f["field"], []).append(f)
    meta = json.loads(row["meta"])
    turns = [dict(t) for t in row.get("messages") or []]
    new_findings: list[dict] = []
    restored = 0
    for field, group in sorted(by_field.items(), key=lambda kv: kv[0] or ""):
        restored += sum(f["operator"] == "encrypt" for f in group)
        turn = turn_index(field)
        if field is None:
            row["text"], fixed = _restore(row["text"], group, keys)
        elif turn is not None:
            turns[turn]["content"], fixed = _restore(turns[turn]["content"], group, keys)
        else:
            parts = field.split(".")[1:]
            value, fixed = _restore(str(_get(meta, parts)), group, keys)
            _set(meta, parts, value)
        new_findings.extend(fixed)
    if turns:  # a conversation's text is the view of its (restored) turns
        row["messages"] = turns
        row["text"] = render_turns(tuple(Turn(t["role"], t["content"]) for t in turns))
    row["meta"] = json.dumps(meta, sort_keys=True, ensure_ascii=False)
    row["pii"] = new_findings
    return restored


def reidentify(out_dir: str, key_file: str, dest: str) -> dict[str, Any]:
    """Write ``dest`` (any Beam path) with the encrypted values of ``out_dir`` restored, plus
    ``reidentified.json`` (counts and the key id; deliberately not a thresher manifest: the
    restored data is raw PII, not a curated output). Returns the counts."""
    manifest = read_manifest(out_dir)
    if fs.all_files(dest):
        raise OutputError(f"--output {dest!r} exists and is not empty; choose a new directory")
    keys = read_key_file(key_file)
    run_key = (manifest.pii or {}).get("key", {}).get("id")
    if run_key and run_key != keys.key_id:
        raise ConfigError(
            f"--key-file {key_file!r} holds key {keys.key_id}, but {out_dir!r} was written with "
            f"key {run_key}; pass the key file of that run"
        )
    fs.mkdirs(layout.path(dest, layout.DATA))
    restored = 0
    records = 0
    for shard in layout.shards(out_dir, layout.DATA):
        table = fs.read_table(shard)
        rows = table.to_pylist()
        for row in rows:
            records += 1
            restored += _restore_row(row, keys)
        name = shard.rsplit("/", 1)[-1]
        fs.write_table_atomic(
            layout.path(dest, layout.DATA, name), pa.Table.from_pylist(rows, schema=table.schema)
        )
    summary = {
        "reidentified_from": out_dir if "://" in out_dir else os.path.abspath(out_dir),
        "key_id": keys.key_id,
        "records": records,
        "values_restored": restored,
    }
    fs.write_atomic(layout.path(dest, RECEIPT), fs.json_bytes(summary))
    return summary
