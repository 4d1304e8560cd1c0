"""The near-dedup index of a thresher output (``DIR/index/*.parquet``): find it, check that its
signatures are comparable with this run's, read it, and delete records from it (erasure).

One row per kept document (schema ``thresher.schema.INDEX_SCHEMA``): id, source, position,
length, MinHash signature and LSH band keys, never text. The LSH parameters that produced the
signatures travel in each file's metadata; a later run refuses an index built with others.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from thresher.errors import ConfigError, InputError
from thresher.output import fs, layout
from thresher.records import IndexEntry
from thresher.schema import INDEX_PARAMS_KEY

INDEX_DIR = "index"


def index_files(output_dir: str) -> list[str]:
    """The index shards of a thresher output, sorted. Raises ``ConfigError`` naming the key
    when ``output_dir`` is not an output with an index."""
    if not layout.is_output(output_dir):
        raise ConfigError(
            f"dedup.near.against = {output_dir!r} is not a thresher output (no manifest.json); "
            "pass the --output directory of an earlier run"
        )
    directory = FileSystems.join(output_dir, INDEX_DIR)
    if not FileSystems.exists(directory):
        raise ConfigError(
            f"dedup.near.against = {output_dir!r} has no index/ directory; that run had "
            "dedup.near.enabled=false (or predates the index): rerun it with near dedup on"
        )
    pattern = FileSystems.join(directory, "*.parquet")
    return sorted(m.path for m in FileSystems.match([pattern])[0].metadata_list)


def read_params(path: str) -> dict[str, Any]:
    """The LSH parameters stored in one index shard's metadata."""
    with FileSystems.open(path) as fh:
        meta = pq.ParquetFile(fh).schema_arrow.metadata or {}
    raw = meta.get(INDEX_PARAMS_KEY.encode())
    if raw is None:
        raise InputError(f"index shard {path!r} carries no {INDEX_PARAMS_KEY} metadata")
    params: dict[str, Any] = json.loads(raw.decode("utf-8"))
    return params


def check_compatible(output_dir: str, files: Iterable[str], params: dict[str, Any]) -> None:
    """Raise ``ConfigError`` when an index was built with other LSH parameters than ``params``
    (its band keys and signatures would never match this run's)."""
    for path in files:
        theirs = read_params(path)
        diff = sorted(k for k in set(theirs) | set(params) if theirs.get(k) != params.get(k))
        if diff:
            shown = ", ".join(
                f"{k}: index {theirs.get(k)!r} vs run {params.get(k)!r}" for k in diff
            )
            raise ConfigError(
                f"dedup.near.against = {output_dir!r}: its index was built with other near-dedup "
                f"parameters ({shown}); run with the same dedup.near settings"
            )
        return  # every shard of one run carries the same parameters


def sharing_a_band(table: pa.Table, band_keys: pa.Array) -> pa.Table:
    """The rows of an index table with at least one band key in ``band_keys``: the only rows
    of an earlier output that can become near-dedup candidates of a run whose documents have
    those band keys (a bucket is a candidate only when it holds a document of this run)."""
    column = table["band_keys"].combine_chunks()
    flat = pc.list_flatten(column)
    parents = pc.list_parent_indices(column)
    rows = pc.unique(pc.filter(parents, pc.is_in(flat, value_set=band_keys)))
    return table.take(pc.take(rows, pc.array_sort_indices(rows)))


def read_entries(path: str, band_keys: pa.Array | None = None) -> Iterator[IndexEntry]:
    """Every row of one index shard, in file order (only those sharing a band key with
    ``band_keys`` when given)."""
    with FileSystems.open(path) as fh:
        table = pq.read_table(fh)
    if band_keys is not None:
        table = sharing_a_band(table, band_keys)
    for row in table.to_pylist():
        yield IndexEntry(
            id=row["id"],
            source=row["source"],
            position=row["position"],
            length=row["length"],
            signature=row["signature"],
            band_keys=tuple(row["band_keys"]),
        )


def delete_from_index(output_dir: str, ids: Iterable[str]) -> int:
    """Remove the rows whose ``id`` is in ``ids`` from ``output_dir``'s index; return how many.

    For erasure requests: a deleted record can no longer be matched by later incremental runs
    (nor named as their ``duplicate_of``). Each changed shard is rewritten next to itself and
    renamed over the old one, so a reader sees the old or the new shard, never a partial one.
    Shards keep their names and their parameter metadata (a shard may end up with zero rows).
    """
    wanted = pa.array(sorted(set(ids)), type=pa.string())
    if len(wanted) == 0:
        return 0
    removed = 0
    for path in index_files(output_dir):
        with FileSystems.open(path) as fh:
            table = pq.read_table(fh)
        hit = pc.is_in(table["id"], value_set=wanted)
        n = pc.sum(hit).as_py() or 0
        if not n:
            continue
        fs.write_table_atomic(path, table.filter(pc.invert(hit)))
        removed += n
    return removed
