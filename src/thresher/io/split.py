"""Cutting the input into batches of record positions for batched local runs.

A batch is a list of ``Span``s: a file and a range of its positions (the positions
``thresher.io.formats`` gives records: line index for JSONL and line text, row index for CSV
and Parquet, 0 for a whole-file text record; blank lines take a position without being a
record). Files are taken in launch order (sorted paths) and positions in file order, so batch
``k`` holds exactly the positions an unbatched run reads after those of batches ``< k``;
positions and derived ids are those of an unbatched run. A large file is cut into several
spans. For uncompressed line formats the byte offset of each cut is found while counting, so
a later span seeks to its first line instead of scanning the file from the start.

The count is a launch-time pass over the input (newline counting for line formats, Parquet
metadata, a parse for CSV); the last span of every file is open-ended, so a count that falls
short (a truncated stream) never loses a record, it only makes the last batch larger.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from thresher.io.formats import (
    ReadOptions,
    Window,
    detect_compression,
    detect_format,
    is_line_format,
    iter_chunks,
    read_file,
)

SpanTuple = tuple[str, int, int | None, int]


@dataclass(frozen=True)
class Span:
    """Positions ``[start, stop)`` of ``path`` (``stop`` None: to the end of the file).
    ``offset``: byte offset of line ``start`` (uncompressed line formats), else 0: read from
    the file's start and skip. The span with ``start == 0`` also carries the file's
    file-level dead letters (position -1)."""

    path: str
    start: int
    stop: int | None
    offset: int = 0

    def window(self) -> Window:
        return Window(self.start, self.stop, self.start if self.offset else 0)

    def as_tuple(self) -> SpanTuple:
        return (self.path, self.start, self.stop, self.offset)

    @classmethod
    def from_tuple(cls, t: SpanTuple) -> Span:
        path, start, stop, offset = t
        return cls(path, start, stop, offset)


def _open(path: str) -> Any:
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def _cuts(first: int, step: int) -> Iterator[int]:
    cut = first
    while True:
        yield cut
        cut += step


def _line_positions(
    path: str, compression: str, first: int, step: int
) -> tuple[int, dict[int, int]]:
    """Line positions in ``path`` and, for an uncompressed file, the byte offset of each cut
    line (``first``, ``first + step``, ...)."""
    offsets: dict[int, int] = {}
    seekable = compression == "none"
    cuts = _cuts(first, step)
    want = next(cuts)
    lines, consumed, last_byte = 0, 0, b"\n"
    try:
        with _open(path) as raw:
            for chunk in iter_chunks(raw, compression):
                n = chunk.count(b"\n")
                while seekable and lines + n >= want:
                    at = -1
                    for _ in range(want - lines):
                        at = chunk.find(b"\n", at + 1)
                    offsets[want] = consumed + at + 1
                    want = next(cuts)
                lines += n
                consumed += len(chunk)
                last_byte = chunk[-1:]
    except Exception:  # a broken stream: its dead letter takes one more position
        return lines + 1, offsets
    return lines + (0 if last_byte == b"\n" else 1), offsets


def _parsed_positions(path: str, opts: ReadOptions) -> int:
    last = -1
    try:
        with _open(path) as raw:
            for item in read_file(raw, path, opts):
                last = max(last, item.position)
    except Exception:
        return 1
    return last + 1


def count_positions(
    path: str, opts: ReadOptions, first: int, step: int
) -> tuple[int, dict[int, int]]:
    """Positions of one file, and seek offsets for cuts at ``first + i * step`` where the
    format allows seeking."""
    fmt = detect_format(path, opts.format)
    comp = detect_compression(path, opts.compression)
    if is_line_format(path, opts):
        return _line_positions(path, comp, first, step)
    if fmt == "parquet" and comp == "none":
        import pyarrow.parquet as pq

        try:
            with _open(path) as raw:
                return int(pq.ParquetFile(raw).metadata.num_rows), {}
        except Exception:
            return 1, {}
    if fmt == "text":
        return 1, {}
    return _parsed_positions(path, opts), {}


@dataclass(frozen=True)
class BatchPlan:
    batches: list[list[Span]]
    positions: int


def plan_batches(paths: Sequence[str], opts: ReadOptions, batch_records: int) -> BatchPlan:
    """Cut ``paths`` (in order) into batches of at most ``batch_records`` positions."""
    batches: list[list[Span]] = []
    current: list[Span] = []
    room = batch_records
    total = 0
    for path in paths:
        n, offsets = count_positions(path, opts, room, batch_records)
        n = max(n, 1)  # an empty or unreadable file still needs a span (its dead letters)
        total += n
        start = 0
        while True:
            stop = start + min(room, n - start)
            last = stop >= n
            current.append(Span(path, start, None if last else stop, offsets.get(start, 0)))
            room -= stop - start
            if room == 0:
                batches.append(current)
                current, room = [], batch_records
            if last:
                break
            start = stop
    if current:
        batches.append(current)
    return BatchPlan(batches, total)
