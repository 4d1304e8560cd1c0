"""What a batch of a batched run reads from the batches before it: their Parquet files, each
filtered to the keys this batch holds, so what flows is bounded by the batch, not by the earlier
batches (exact-dedup keys, claimed source ids)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import apache_beam as beam
import pyarrow as pa


class ReadEarlierRowsFn(beam.DoFn):
    """A Parquet file of an earlier batch -> ``(row[key], make(row))`` for each row whose
    ``key`` column is among ``current`` (the side input: this batch's keys). ``columns`` are
    the columns read; ``make`` builds the marker the grouping step recognises."""

    def __init__(self, key: str, columns: Sequence[str], make: Callable[[dict], Any]) -> None:
        self._key = key
        self._columns = list(columns)
        self._make = make
        self._wanted: tuple[int, pa.Array] | None = None

    def process(self, path: str, current: list[str]) -> Iterator[tuple[str, Any]]:
        import pyarrow.compute as pc

        from thresher.output import fs

        if self._wanted is None or self._wanted[0] != id(current):
            self._wanted = (id(current), pa.array(sorted(set(current)), type=pa.string()))
        table = fs.read_table(path, columns=self._columns)
        hit = table.filter(pc.is_in(table[self._key], value_set=self._wanted[1]))
        for row in hit.to_pylist():
            yield row[self._key], self._make(row)
