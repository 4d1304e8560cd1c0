"""Cutting input into batches (``thresher.io.split``): every position read exactly once, with
the position and id a whole-file read gives it, whatever the format and wherever the cuts fall;
seekable files are read from the cut's byte offset."""

import bz2
import gzip
import json
from pathlib import Path

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apache_beam.testing.util import assert_that, equal_to

from thresher.config import InputConfig
from thresher.io.formats import ReadOptions, read_file
from thresher.io.read import InputFile, ReadCorpus
from thresher.io.split import Span, plan_batches
from thresher.records import DeadLetter

OPTS = ReadOptions(id_field="id")


def _lines(n: int) -> bytes:
    rows = []
    for i in range(n):
        if i % 7 == 3:
            rows.append(b"")  # a blank line: a position, not a record
        elif i % 11 == 5:
            rows.append(b"{not json")  # a dead letter
        else:
            rows.append(json.dumps({"id": f"r{i}", "text": f"record number {i}"}).encode())
    return b"\n".join(rows) + b"\n"


@pytest.fixture
def corpus(tmp_path):
    """Files of every splittable kind, 9 to 40 positions each."""
    (tmp_path / "a.jsonl").write_bytes(_lines(40))
    (tmp_path / "b.jsonl.gz").write_bytes(gzip.compress(_lines(23), mtime=0))
    (tmp_path / "c.jsonl").write_bytes(_lines(9).rstrip(b"\n"))  # no final newline
    csv = "id,text\n" + "".join(f'c{i},"row {i}\nspans two lines"\n' for i in range(17))
    (tmp_path / "d.csv.bz2").write_bytes(bz2.compress(csv.encode()))
    table = pa.table({"id": [f"p{i}" for i in range(1500)], "text": ["t"] * 1500})
    pq.write_table(table, tmp_path / "e.parquet", row_group_size=400)
    return sorted(str(p) for p in tmp_path.iterdir())


def _read_whole(path: str) -> list[tuple]:
    with open(path, "rb") as fh:
        return [_key(i) for i in read_file(fh, path, OPTS)]


def _read_span(span: Span) -> list[tuple]:
    with open(span.path, "rb") as fh:
        fh.seek(span.offset)
        return [_key(i) for i in read_file(fh, span.path, OPTS, span.window())]


def _key(item) -> tuple:
    kind = item.error_type if isinstance(item, DeadLetter) else "doc"
    return (item.source, item.position, item.id, kind)


@pytest.mark.parametrize("size", [3, 10, 37, 450, 5000])
def test_spans_read_every_record_once_with_whole_file_positions_and_ids(corpus, size):
    plan = plan_batches(corpus, OPTS, size)
    whole = sorted(k for path in corpus for k in _read_whole(path))
    batched = [k for batch in plan.batches for span in batch for k in _read_span(span)]
    assert sorted(batched) == whole
    assert len(batched) == len(set(batched))
    assert plan.positions == 40 + 23 + 9 + 17 + 1500
    # No batch holds more positions than asked, except that every file has at least one.
    for batch in plan.batches[:-1]:
        held = sum((s.stop if s.stop is not None else _count(s)) - s.start for s in batch)
        assert held == size


def _count(span: Span) -> int:
    return {"a.jsonl": 40, "b.jsonl.gz": 23, "c.jsonl": 9, "d.csv.bz2": 17, "e.parquet": 1500}[
        span.path.rsplit("/", 1)[-1]
    ]


def test_uncompressed_line_files_are_cut_at_byte_offsets(corpus):
    plan = plan_batches(corpus, OPTS, 10)
    spans = [s for b in plan.batches for s in b if s.path.endswith("a.jsonl")]
    assert [(s.start, s.stop) for s in spans] == [(0, 10), (10, 20), (20, 30), (30, None)]
    data = Path(corpus[0]).read_bytes()
    for s in spans[1:]:
        assert s.offset == len(b"\n".join(data.split(b"\n")[: s.start])) + 1
    compressed = [s for b in plan.batches for s in b if s.path.endswith(".gz")]
    assert len(compressed) > 1 and all(s.offset == 0 for s in compressed)


def test_read_corpus_over_spans_equals_whole_files(corpus):
    corpus = [p for p in corpus if not p.endswith(".parquet")]  # 89 positions: 7 pipelines
    cfg = InputConfig(paths=corpus, id_field="id")
    files = [InputFile(p, 0) for p in corpus]
    plan = plan_batches(corpus, OPTS, 13)
    expected = sorted(k for path in corpus for k in _read_whole(path))
    got = []
    for batch in plan.batches:
        with beam.Pipeline(runner="FnApiRunner") as p:
            out = p | ReadCorpus(files, cfg, [s.as_tuple() for s in batch])
            both = (out["main"], out["dead_letter"]) | beam.Flatten() | beam.Map(_key)
            keys = [k for s in batch for k in _read_span(s)]
            assert_that(both, equal_to(keys))
        got += keys
    assert sorted(got) == expected
