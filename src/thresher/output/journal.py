"""``journal.json``: the record of a batched local run, batch by batch, for resume.

Written atomically into the output directory when the run starts (the recipe, the input files
with their sizes and modification times, the batch plan) and again each time a batch finishes
(its spans, timings and the fingerprint of recipe and inputs it ran with). A rerun of the same
command over an output with a journal and no manifest continues after the last finished
batch; a rerun with another recipe or changed input files is refused with what changed
(:func:`changes`). Holds paths, sizes, times and recipe values; never document text.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from apache_beam.io.filesystems import FileSystems
from pydantic import BaseModel, ConfigDict, Field

from thresher.output import fs, layout

VERSION = 1
SpanTuple = tuple[str, int, int | None, int]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JournalInput(_Model):
    path: str
    size_bytes: int
    modified: float | None


class FinishedBatch(_Model):
    index: int
    spans: list[SpanTuple]
    fingerprint: str
    pipeline_seconds: float
    stage_msecs: dict[str, int] = Field(default_factory=dict)
    finished_at: str


class Journal(_Model):
    version: int = VERSION
    fingerprint: str
    recipe: dict[str, Any]
    inputs: list[JournalInput]
    batch_records: int
    positions: int
    batches: list[list[SpanTuple]]
    previous_manifest_hashes: list[str] = Field(default_factory=list)
    finished: list[FinishedBatch] = Field(default_factory=list)
    # Set once every batch is done, before any shard moves: (staged, published) paths, so a
    # crash while publishing can be undone by the rerun.
    publishing: list[tuple[str, str]] = Field(default_factory=list)


def modified(path: str) -> float | None:
    """The file's modification time as its filesystem reports it (None where it has none)."""
    try:
        meta = FileSystems.match([path])[0].metadata_list[0]
    except Exception:
        return None
    value = getattr(meta, "last_updated_in_seconds", None)
    return float(value) if value is not None else None


def describe_inputs(files: Sequence[Any]) -> list[JournalInput]:
    """``files`` (``InputFile``: path, size_bytes) with their modification times."""
    return [
        JournalInput(path=f.path, size_bytes=f.size_bytes, modified=modified(f.path)) for f in files
    ]


def fingerprint(recipe: Mapping[str, Any], inputs: Sequence[JournalInput]) -> str:
    """sha256 of the recipe (with ``local``) and the input files' paths, sizes and times."""
    blob = json.dumps(
        {"recipe": recipe, "inputs": [i.model_dump() for i in inputs]}, sort_keys=True
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def path(out: str) -> str:
    return layout.path(out, layout.JOURNAL)


def exists(out: str) -> bool:
    return fs.exists(path(out))


def read(out: str) -> Journal:
    return Journal.model_validate(fs.read_json(path(out)))


def write(out: str, journal: Journal) -> None:
    fs.write_atomic(path(out), fs.json_bytes(journal.model_dump(mode="json")))


def _flat(data: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(data, dict):
        return {prefix: data}
    flat: dict[str, Any] = {}
    for key, value in data.items():
        flat.update(_flat(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def _shown(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def changes(
    journal: Journal, recipe: Mapping[str, Any], inputs: Sequence[JournalInput]
) -> list[str]:
    """What differs between the journal's run and this one: recipe keys (with both values)
    and input files (added, removed, changed size or modification time). Empty: the same."""
    found: list[str] = []
    before, now = _flat(journal.recipe), _flat(dict(recipe))
    for key in sorted(set(before) | set(now)):
        if before.get(key) != now.get(key):
            found.append(f"recipe key {key}: {_shown(before.get(key))} -> {_shown(now.get(key))}")
    old = {i.path: i for i in journal.inputs}
    new = {i.path: i for i in inputs}
    found += [f"input file removed: {p}" for p in sorted(set(old) - set(new))]
    found += [f"input file added: {p}" for p in sorted(set(new) - set(old))]
    for p in sorted(set(old) & set(new)):
        if old[p].size_bytes != new[p].size_bytes:
            found.append(
                f"input file changed size: {p} ({old[p].size_bytes} -> {new[p].size_bytes} bytes)"
            )
        elif old[p].modified != new[p].modified:
            found.append(f"input file modified since the run started: {p}")
    return found
