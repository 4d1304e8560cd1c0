"""The output directory's layout, in one place.

```
DIR/
  data/part-NNNNN-of-MMMMM.parquet     kept records
  lineage/part-*.parquet               one row per input record
  dead_letter/part-*.parquet           records that could not be processed
  index/part-*.parquet                 near-dedup signatures (when near dedup ran)
  manifest.json                        the run's books (thresher.output.manifest.Manifest)
  report.html, README.md               for people, rendered from the manifest
  privacy_ledger.json                  DP fine-tuning runs on this data (thresher finetune)
  erasure/                             receipts of thresher forget
  journal.json                         batched local runs: the batches, for resume
  _batches/NNNNN/                      batched local runs: each batch's staged shards, until
                                       the manifest is written
```
"""

from __future__ import annotations

import os

from apache_beam.io.filesystems import FileSystems

from thresher.errors import InputError, OutputError
from thresher.output import fs

DATA = "data"
LINEAGE = "lineage"
DEAD_LETTER = "dead_letter"
INDEX = "index"
SHARD_KINDS = (DATA, LINEAGE, DEAD_LETTER, INDEX)
MANIFEST = "manifest.json"
REPORT = "report.html"
CARD = "README.md"
LEDGER = "privacy_ledger.json"
ERASURES = "erasure"
STAGING = "_staging"
JOURNAL = "journal.json"  # batched local runs: finished batches, for resume
BATCHES = "_batches"  # batched local runs: each batch's staged outputs until the end


def path(out: str, *parts: str) -> str:
    """A path inside the output directory ``out``."""
    return fs.join(out, *parts)


def is_output(out: str) -> bool:
    """Whether ``out`` holds a thresher output (its manifest)."""
    return fs.exists(path(out, MANIFEST))


def require_output(out: str) -> None:
    """Raise ``InputError`` unless ``out`` is a thresher output: every command that reads one
    starts here, so the message is the same everywhere."""
    if not is_output(out):
        raise InputError(
            f"{out!r} is not a thresher output (no {MANIFEST}); pass the --output directory "
            "of a `thresher run`"
        )


def shards(out: str, kind: str) -> list[str]:
    """The published Parquet shards of one kind, in order."""
    return fs.files(path(out, kind), "*.parquet")


def _is_file(out: str) -> bool:
    if "://" not in out:
        return os.path.isfile(out)
    found = FileSystems.match([out])[0].metadata_list
    return any(m.path.rstrip("/") == out.rstrip("/") for m in found)


def prepare(out: str, overwrite: bool, keep: tuple[str, ...] = ()) -> None:
    """Refuse a non-empty output directory unless ``overwrite``; then only empty a directory
    that is recognisably a thresher output (never an arbitrary folder), leaving the entries
    named in ``keep`` (see :mod:`thresher.output.carry`). Runs before anything is created."""
    if not fs.exists(out):
        return
    if _is_file(out):
        raise OutputError(
            f"output.path {out!r} is a file, not a directory; choose a new or empty "
            "directory for --output"
        )
    contents = fs.all_files(out)
    if not contents:
        return
    if not overwrite:
        raise OutputError(
            f"output.path {out!r} exists and is not empty; choose another --output or pass "
            "--overwrite to replace a previous thresher output"
        )
    ours = any(fs.exists(path(out, name)) for name in (MANIFEST, STAGING, LEDGER, JOURNAL))
    if not ours:
        raise OutputError(
            f"output.path {out!r} is not a thresher output (no manifest.json); refusing to "
            "delete it even with --overwrite: choose an empty or new directory"
        )
    kept = tuple(path(out, name) for name in keep)
    fs.delete(p for p in contents if not p.startswith(kept))
    for kind in (*SHARD_KINDS, STAGING, BATCHES):  # empty folders left behind on local disks
        if fs.exists(path(out, kind)) and not fs.all_files(path(out, kind)):
            fs.delete([path(out, kind)])


def publish(staging: str, out: str, kind: str) -> list[dict[str, int | str]]:
    """Rename staged shards of ``kind`` to ``part-NNNNN-of-MMMMM.parquet`` under ``out/kind``.

    Returns the manifest's shard entries (relative file, rows, bytes), in order.
    """
    return publish_many([staging], out, kind)


def publish_many(stagings: list[str], out: str, kind: str) -> list[dict[str, int | str]]:
    """:func:`publish` over several staging directories (the batches of a batched run), in
    order, numbered as one set of shards."""
    fs.mkdirs(path(out, kind))
    entries: list[dict[str, int | str]] = []
    for src, dst in publish_targets(stagings, out, kind):
        rows, size = fs.parquet_rows(src), fs.size(src)
        fs.rename(src, dst)
        name = dst.rsplit("/", 1)[-1]
        entries.append({"file": f"{kind}/{name}", "rows": rows, "bytes": size})
    return entries


def publish_targets(stagings: list[str], out: str, kind: str) -> list[tuple[str, str]]:
    """(staged shard, published path) of every shard :func:`publish_many` would move."""
    staged = [f for s in stagings for f in fs.files(fs.join(s, kind), f"{kind}-*.parquet")]
    target = path(out, kind)
    return [
        (src, fs.join(target, f"part-{i:05d}-of-{len(staged):05d}.parquet"))
        for i, src in enumerate(staged)
    ]
