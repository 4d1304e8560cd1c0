"""``WriteShards``: records to Parquet shards capped by rows and bytes, never empty.

Shards are written into a staging directory under deterministic names
(``<prefix>-b<bucket>-c<chunk>.parquet``); ``thresher.run`` renames them to
``part-NNNNN-of-MMMMM.parquet`` only after the run's books balance, so a crashed or failed run
leaves no partial shard in the published directories.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.pvalue import AsSingleton, PCollection

from thresher import progress
from thresher.core.hashing import stable_bucket

# A hash split leaves buckets uneven; aiming below the cap keeps most buckets in one shard.
_FILL = 0.8


def bucket_count(rows: int, nbytes: int, max_rows: int, max_bytes: int) -> int:
    if rows == 0:
        return 1
    return max(1, math.ceil(rows / (max_rows * _FILL)), math.ceil(nbytes / (max_bytes * _FILL)))


def chunk_rows(
    rows: Iterable[dict[str, Any]], sizes: Iterable[int], max_rows: int, max_bytes: int
) -> Iterator[list[dict[str, Any]]]:
    """Split ordered rows into chunks of at most ``max_rows`` rows and ``max_bytes`` bytes.

    A single row larger than ``max_bytes`` gets a chunk of its own (never dropped).
    """
    chunk: list[dict[str, Any]] = []
    held = 0
    for row, size in zip(rows, sizes, strict=True):
        if chunk and (len(chunk) >= max_rows or held + size > max_bytes):
            yield chunk
            chunk, held = [], 0
        chunk.append(row)
        held += size
    if chunk:
        yield chunk


class _WriteBucketFn(beam.DoFn):
    def __init__(
        self,
        directory: str,
        prefix: str,
        schema: pa.Schema,
        to_row: Callable[[Any], dict[str, Any]],
        sort_key: Callable[[Any], Any],
        size_of: Callable[[Any], int],
        max_rows: int,
        max_bytes: int,
        compression: str,
    ) -> None:
        self._dir = directory
        self._prefix = prefix
        self._schema = schema
        self._to_row = to_row
        self._sort_key = sort_key
        self._size_of = size_of
        self._max_rows = max_rows
        self._max_bytes = max_bytes
        self._compression = None if compression == "none" else compression
        self._rows = Metrics.counter("write", f"{prefix}.rows")
        self._files = Metrics.counter("write", f"{prefix}.files")

    def process(self, element: tuple[int, Iterable[Any]]) -> Iterator[str]:
        bucket, items = element
        ordered = sorted(items, key=self._sort_key)
        rows = (self._to_row(x) for x in ordered)
        sizes = (self._size_of(x) for x in ordered)
        for c, chunk in enumerate(chunk_rows(rows, sizes, self._max_rows, self._max_bytes)):
            name = f"{self._prefix}-b{bucket:06d}-c{c:04d}.parquet"
            final = FileSystems.join(self._dir, name)
            tmp = final + ".inprogress"
            table = pa.Table.from_pylist(chunk, schema=self._schema)
            with FileSystems.create(tmp) as fh:
                pq.write_table(table, fh, compression=self._compression, row_group_size=50_000)
            FileSystems.rename([tmp], [final])
            self._rows.inc(len(chunk))
            self._files.inc()
            progress.tick(self._prefix, len(chunk))
            yield final


class WriteShards(beam.PTransform):
    """Write records as Parquet shards with an explicit schema.

    Records are spread over buckets by a stable hash of ``sort_key``'s first element (the id);
    the bucket count comes from the collection's total rows and bytes, so every bucket holds
    about one shard. Inside a bucket, records are sorted by ``sort_key`` and cut at
    ``max_rows`` rows or ``max_bytes`` (uncompressed estimate). Same records, same shards, on any
    runner or worker count. No empty shard is ever written. Output: ``PCollection[str]`` of the
    staged file paths. One worker holds one bucket (about one shard) at a time.
    """

    def __init__(
        self,
        directory: str,
        prefix: str,
        schema: pa.Schema,
        to_row: Callable[[Any], dict[str, Any]],
        sort_key: Callable[[Any], Any],
        size_of: Callable[[Any], int],
        max_rows: int,
        max_bytes: int,
        compression: str = "zstd",
    ) -> None:
        super().__init__()
        self._args = (directory, prefix, schema, to_row, sort_key, size_of, max_rows, max_bytes)
        self._compression = compression

    def expand(self, records: PCollection) -> PCollection:
        directory, prefix, schema, to_row, sort_key, size_of, max_rows, max_bytes = self._args
        totals = (
            records
            | "MeasureRows" >> beam.Map(lambda r: (1, size_of(r)))
            | "TotalRows"
            >> beam.CombineGlobally(
                lambda pairs: tuple(map(sum, zip(*pairs, strict=True))) or (0, 0)
            ).without_defaults()  # the view's default stands in: one stage fewer
        )

        def assign(record: Any, total: tuple[int, int]) -> tuple[int, Any]:
            n = bucket_count(total[0], total[1], max_rows, max_bytes)
            return stable_bucket(str(sort_key(record)[0]), n), record

        return (
            records
            | "AssignBucket" >> beam.Map(assign, AsSingleton(totals, default_value=(0, 0)))
            | "GroupByBucket" >> beam.GroupByKey()
            | "WriteBucket"
            >> beam.ParDo(
                _WriteBucketFn(
                    directory,
                    prefix,
                    schema,
                    to_row,
                    sort_key,
                    size_of,
                    max_rows,
                    max_bytes,
                    self._compression,
                )
            )
        )
