"""Read a thresher output directory into training rows and split it by privacy unit.

Only pyarrow and the standard library here: this module works without the ``dp`` extra.
The files are read through ``thresher.finetune.dataset_io``.

Contract: ``load_corpus(dir, unit_field, label_field)`` reads ``DIR/data/*.parquet`` (columns
``id``, ``text``, ``meta`` = the input's other fields as a JSON string, and ``messages``: a
conversation's turns, null for a document) and returns every row
with its privacy unit: the record id (record-level DP) or ``meta[unit_field]`` (user-level DP:
all records of one person form one unit). ``split_units`` sends whole units to the held-out
split, chosen by a salted sha256 of the unit key: stable across runs, seeds and machines, so one
person's records are never split between training and evaluation. Nothing here logs text.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thresher.errors import InputError
from thresher.finetune.dataset_io import data_shards, manifest_sha256, read_manifest, read_rows
from thresher.records import Turn

_SPLIT_SALT = "thresher.finetune.split/1:"


@dataclass(frozen=True)
class Row:
    id: str
    text: str
    unit: str
    label: str | None
    # a conversation's turns; empty for a document
    messages: tuple[Turn, ...] = ()


@dataclass(frozen=True)
class Corpus:
    """The rows of one output directory and the identity of that dataset."""

    path: str
    manifest_sha256: str
    # this manifest's hash and those of every manifest it replaced (audit, forget, a rerun
    # with --overwrite): privacy spent on any of them was spent on this data
    dataset_hashes: tuple[str, ...]
    rows: tuple[Row, ...]
    unit_field: str | None

    @property
    def unit(self) -> str:
        return "user" if self.unit_field else "record"

    @property
    def conversations(self) -> int:
        """How many rows are conversations (the rest are documents)."""
        return sum(1 for r in self.rows if r.messages)


def _meta_value(meta: dict[str, Any], field: str) -> Any:
    # A dotted name reaches into nested objects: `user.id`.
    node: Any = meta
    for part in field.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _key(value: Any) -> str:
    # Units and labels compare by their JSON spelling, so 7 and "7" stay different people.
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _field_key(meta: dict[str, Any], field: str) -> str | None:
    value = _meta_value(meta, field)
    return None if value is None else _key(value)


def _read_rows(
    directory: str, unit_field: str | None, label_field: str | None
) -> tuple[list[Row], int, int]:
    """(rows, records without the unit field, records without the label field); a record
    lacking its unit is counted once, as lacking the unit."""
    rows: list[Row] = []
    missing_unit = missing_label = 0
    for shard in data_shards(directory):
        for rec in read_rows(shard):
            meta = json.loads(rec["meta"]) if rec["meta"] else {}
            unit = rec["id"]
            if unit_field:
                unit = _field_key(meta, unit_field)
                if unit is None:
                    missing_unit += 1
                    continue
            label = _field_key(meta, label_field) if label_field else None
            if label_field and label is None:
                missing_label += 1
                continue
            turns = tuple(Turn(m["role"], m["content"]) for m in rec["messages"] or ())
            rows.append(Row(rec["id"], rec["text"], unit, label, turns))
    return rows, missing_unit, missing_label


def load_corpus(
    directory: str | Path, unit_field: str | None = None, label_field: str | None = None
) -> Corpus:
    """All kept rows of ``directory`` in shard order. Raises ``InputError`` when the directory
    is not a published thresher output, holds no rows, or a row lacks the unit or label field
    (the message gives counts and field names, never values)."""
    directory = str(directory)  # any Beam path: never through pathlib
    manifest = read_manifest(directory)
    if manifest.get("status") == "failed":
        raise InputError(
            f"{str(directory)!r} is the output of a failed run (manifest status 'failed'); "
            "fix the run and train on a succeeded output"
        )
    rows, missing_unit, missing_label = _read_rows(directory, unit_field, label_field)
    if missing_unit:
        raise InputError(
            f"{missing_unit} record(s) have no meta field {unit_field!r} (--unit-field); a "
            "record without its person cannot be given a user-level guarantee: keep the field "
            "in curation (input.meta_fields) or name another field"
        )
    if missing_label:
        raise InputError(
            f"{missing_label} record(s) have no meta field {label_field!r} (--label-field); "
            "name the field that holds the label"
        )
    if not rows:
        raise InputError(f"{str(directory)!r} holds no records to train on")
    return Corpus(
        path=directory,
        manifest_sha256=manifest_sha256(directory),
        dataset_hashes=(
            manifest_sha256(directory),
            *manifest.get("previous_manifest_hashes", []),
        ),
        rows=tuple(rows),
        unit_field=unit_field,
    )


def _unit_draw(unit: str) -> float:
    digest = hashlib.sha256((_SPLIT_SALT + unit).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_units(units: list[str], eval_fraction: float) -> tuple[list[str], list[str]]:
    """(train units, held-out units), each sorted; at least one unit on each side."""
    distinct = sorted(set(units))
    if len(distinct) < 2:
        raise InputError(
            f"the dataset has {len(distinct)} privacy unit(s); training with a held-out split "
            "needs at least 2"
        )
    held = {u for u in distinct if _unit_draw(u) < eval_fraction}
    if not held:
        held = {min(distinct, key=_unit_draw)}
    if len(held) == len(distinct):
        held.discard(max(distinct, key=_unit_draw))
    return [u for u in distinct if u not in held], sorted(held)
